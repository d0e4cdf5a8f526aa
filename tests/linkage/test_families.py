"""Two roles in one DTSEN family are two people (assets/linkage/families.py): a cannot-link inside
their component, which the split keeps; one role twice, a vague role, two families or another
source are left to the model."""

from __future__ import annotations

import polars as pl

from assets.linkage.families import family_role_conflicts
from assets.linkage.recluster import cluster_people
from assets.linkage.rules import load_rules

ROLES = load_rules().family_roles
FAMILY = "300665327"


def records(*rows: tuple) -> pl.DataFrame:
    """(record key, family id, relation) per record."""
    return pl.DataFrame(list(rows), schema={"record_key": pl.String, "family_id": pl.String,
                                            "family_relation": pl.String}, orient="row")


def conflicts(rows: pl.DataFrame, clusters: list[str] | None = None) -> list[tuple[str, str]]:
    components = pl.DataFrame({"record_key": rows["record_key"],
                               "cluster_id": clusters or ["c1"] * rows.height})
    records_of = lambda keys: rows.join(keys, on="record_key", how="semi")
    return family_role_conflicts(components, records_of, ROLES).rows()


def test_the_head_and_his_son_of_one_name_in_one_family_are_two_people():
    rows = records(("dtsen_individu:3200013114", FAMILY, "KEPALA KELUARGA"),
                   ("dtsen_individu:3200407514", FAMILY, "ANAK"))
    assert conflicts(rows) == [("dtsen_individu:3200013114", "dtsen_individu:3200407514")]


def test_a_wife_and_the_head_are_two_people_and_a_third_row_joins_either():
    rows = records(("dtsen_individu:1", FAMILY, "ISTRI"), ("dtsen_individu:2", FAMILY, "KEPALA KELUARGA"),
                   ("dtsen_individu:3", "300000001", "KEPALA KELUARGA"), ("p2mi_kasus:K1", None, None))
    assert conflicts(rows) == [("dtsen_individu:1", "dtsen_individu:2")]


def test_one_role_twice_a_vague_role_and_one_relation_named_two_ways_are_left_to_the_model():
    assert conflicts(records(("dtsen_individu:1", FAMILY, "ANAK"), ("dtsen_individu:2", FAMILY, "ANAK"))) == []
    assert conflicts(records(("dtsen_individu:1", FAMILY, "ANAK"), ("dtsen_individu:2", FAMILY, "FAMILI LAIN"))) == []
    assert conflicts(records(("dtsen_individu:1", FAMILY, "SUAMI"), ("dtsen_individu:2", FAMILY, "ISTRI"))) == []
    assert conflicts(records(("dtsen_individu:1", FAMILY, "ORANG TUA"), ("dtsen_individu:2", FAMILY, "MERTUA"))) == []
    assert conflicts(records(("dtsen_individu:1", FAMILY, "ANAK"), ("dtsen_individu:2", FAMILY, None))) == []


def test_two_families_two_components_and_other_sources_are_left_to_the_model():
    # a child who became the head of a family of its own: one person registered in both
    assert conflicts(records(("dtsen_individu:1", FAMILY, "ANAK"),
                             ("dtsen_individu:2", "300000001", "KEPALA KELUARGA"))) == []
    assert conflicts(records(("dtsen_individu:1", FAMILY, "ANAK"), ("dtsen_individu:2", FAMILY, "KEPALA KELUARGA")),
                     ["c1", "c2"]) == []
    assert conflicts(records(("sr_siswa:1", FAMILY, "ANAK"), ("dtsen_individu:2", FAMILY, "KEPALA KELUARGA"))) == []


def test_the_split_keeps_the_father_and_the_son_apart_unless_a_reviewer_joined_them():
    rules = load_rules()
    rows = records(("dtsen_individu:father", FAMILY, "KEPALA KELUARGA"), ("dtsen_individu:son", FAMILY, "ANAK"))
    edge = pl.DataFrame({"record_key_l": ["dtsen_individu:father"], "record_key_r": ["dtsen_individu:son"],
                         "match_probability": [0.998]})
    no_links = edge.clear().select("record_key_l", "record_key_r")
    records_of = lambda keys: rows.join(keys, on="record_key", how="semi")
    # a two-record component is never scored again by the model: the rule alone splits it
    result = cluster_people(rows.select("record_key"), edge, no_links, frozenset(), records_of, {}, {}, rules)
    assert result.clusters["cluster_id"].n_unique() == 2
    assert result.role_conflicts.rows() == [("dtsen_individu:father", "dtsen_individu:son")]
    reviewed = cluster_people(rows.select("record_key"), edge, edge.select("record_key_l", "record_key_r"),
                              frozenset(), records_of, {}, {}, rules)
    assert reviewed.clusters["cluster_id"].n_unique() == 1
    assert reviewed.role_conflicts.is_empty()
