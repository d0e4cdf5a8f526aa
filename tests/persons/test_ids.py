"""Stable person ids across nights: kept, created, merged, split and retired."""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.persons.ids import _assign, assign_stable_person_ids, new_person_id, unchanged_persons


def clusters(groups: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(key, cid) for cid, keys in groups.items() for key in keys],
        schema={"record_key": pl.String, "cluster_id": pl.String}, orient="row",
    )


def previous(groups: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(key, pid) for pid, keys in groups.items() for key in keys],
        schema={"record_key": pl.String, "person_id": pl.String}, orient="row",
    )


def ids_of(mapping: pl.DataFrame) -> dict[str, str]:
    return dict(mapping.iter_rows())


def test_first_night_creates_one_opaque_id_per_cluster():
    mapping, events = assign_stable_person_ids(clusters({"c1": ["a:1", "b:1"], "c2": ["a:2"]}), None, "run1")
    ids = ids_of(mapping)
    assert ids["a:1"] == ids["b:1"] == new_person_id("run1", "a:1")
    assert ids["a:2"] == new_person_id("run1", "a:2") != ids["a:1"]
    assert ids["a:1"].startswith("P") and len(ids["a:1"]) == 17
    assert sorted(events["event"].to_list()) == ["created", "created"]


def test_same_clusters_keep_their_ids_and_new_record_joins_existing_person():
    prev = previous({"P1": ["a:1", "b:1"], "P2": ["a:2"]})
    mapping, events = assign_stable_person_ids(
        clusters({"x": ["a:1", "b:1", "c:1"], "y": ["a:2"]}), prev, "run2"
    )
    assert ids_of(mapping) == {"a:1": "P1", "b:1": "P1", "c:1": "P1", "a:2": "P2"}
    assert events.is_empty()


def ages(**created_night: int) -> pl.DataFrame:
    return pl.DataFrame({
        "person_id": list(created_night),
        "created_at": [dt.datetime(2026, 11, night, tzinfo=dt.timezone.utc) for night in created_night.values()],
    })


def test_merge_keeps_the_older_id_even_when_it_has_fewer_records():
    prev = previous({"P1": ["a:1", "b:1"], "P2": ["a:2"]})
    edges = pl.DataFrame({"record_key_l": ["a:1", "a:2"], "record_key_r": ["b:1", "b:1"], "match_weight": [20.0, 9.5]})
    mapping, events = assign_stable_person_ids(
        clusters({"x": ["a:1", "b:1", "a:2"]}), prev, "run3", ages=ages(P2=1, P1=2), edges=edges
    )
    assert set(ids_of(mapping).values()) == {"P2"}
    assert events.select("event", "person_id", "related_person_id", "records", "record_keys").rows() == [
        ("merged", "P1", "P2", 2, "a:1 b:1")
    ]
    assert events["evidence"][0] == "pair a:2~b:1 weight 9.50"


def test_merge_tie_on_age_keeps_the_smaller_id():
    prev = previous({"P1": ["a:1", "b:1"], "P2": ["a:2"]})
    mapping, events = assign_stable_person_ids(clusters({"x": ["a:1", "b:1", "a:2"]}), prev, "run2")
    assert set(ids_of(mapping).values()) == {"P1"}
    assert events.select("event", "person_id", "related_person_id", "records").rows() == [
        ("merged", "P2", "P1", 1)
    ]


def test_split_keeps_the_id_on_the_larger_part_and_names_the_broken_pair():
    prev = previous({"P1": ["a:1", "b:1", "c:1"]})
    dropped = pl.DataFrame({"record_key_l": ["b:1"], "record_key_r": ["c:1"],
                            "previous_match_weight": [12.0], "match_weight": [None]}, schema_overrides={"match_weight": pl.Float64})
    mapping, events = assign_stable_person_ids(
        clusters({"x": ["a:1", "b:1"], "y": ["c:1"]}), prev, "run2", dropped_pairs=dropped
    )
    ids = ids_of(mapping)
    assert ids["a:1"] == ids["b:1"] == "P1"
    assert ids["c:1"] == new_person_id("run2", "c:1")
    assert events.select("event", "person_id", "related_person_id", "record_keys").rows() == [
        ("split", ids["c:1"], "P1", "c:1")
    ]
    assert events["evidence"][0] == "pair b:1~c:1 was weight 12.00, below the cluster threshold"


def test_record_moving_between_two_kept_persons_is_a_moved_event():
    prev = previous({"P1": ["a:1", "a:2", "r:1"], "P2": ["b:1", "b:2"]})
    mapping, events = assign_stable_person_ids(
        clusters({"x": ["a:1", "a:2"], "y": ["b:1", "b:2", "r:1"]}), prev, "run2"
    )
    assert ids_of(mapping)["r:1"] == "P2"
    assert events.select("event", "person_id", "related_person_id", "record_keys").rows() == [
        ("moved", "P2", "P1", "r:1")
    ]


def test_an_issued_id_is_never_issued_again():
    taken = new_person_id("run2", "a:9")
    mapping, _ = assign_stable_person_ids(clusters({"z": ["a:9"]}), None, "run2", issued_ids={taken})
    assert ids_of(mapping)["a:9"] not in {taken} and ids_of(mapping)["a:9"].startswith("P")


def test_person_whose_records_are_gone_is_retired_and_ids_are_not_reused():
    prev = previous({"P1": ["a:1"], "P2": ["a:2"]})
    mapping, events = assign_stable_person_ids(clusters({"x": ["a:1"], "z": ["a:9"]}), prev, "run2")
    assert ids_of(mapping)["a:1"] == "P1"
    assert ids_of(mapping)["a:9"] not in {"P1", "P2"}
    assert sorted(events.select("event", "person_id").rows()) == [
        ("created", ids_of(mapping)["a:9"]), ("retired", "P2")
    ]


def test_unchanged_persons_keep_their_ids_as_the_full_rules_would_give_them():
    # Persons whose cluster is exactly last night's set of records are set aside before the rules
    # run; the result must be the rules' own over every cluster: ids, events and their evidence.
    before = previous({
        "P1": ["a1", "a2"], "P2": ["b1"], "P3": ["c1", "c2", "c3"], "P4": ["d1"], "P5": ["e1", "e2"],
        "P6": ["f1"], "P7": ["g1", "g2"],
    })
    tonight = clusters({
        "1": ["a1", "a2"],          # unchanged
        "2": ["b1", "d1"],          # P2 and P4 merge
        "3": ["c1", "c2"],          # P3 splits: c3 goes alone
        "4": ["c3"],
        "5": ["e1", "e2", "n1"],    # a new record joins P5
        "6": ["g1", "g2"],          # unchanged; P6 is gone (retired)
        "7": ["n2"],                # a new person
    })
    edges = pl.DataFrame({"record_key_l": ["b1", "e1", "a1"], "record_key_r": ["d1", "n1", "a2"],
                          "match_weight": [12.0, 9.5, 20.0]})
    dropped = pl.DataFrame({"record_key_l": ["c2"], "record_key_r": ["c3"], "previous_match_weight": [8.0],
                            "match_weight": [-3.0]})
    ages = pl.DataFrame({"person_id": ["P2", "P4"], "created_at": [dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
                                                                   dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]})
    when = dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc)
    args = dict(ages=ages, edges=edges, dropped_pairs=dropped, issued_ids=pl.Series(["P1", "P2", "P3", "P4", "P5",
                                                                                      "P6", "P7"]), recorded_at=when)
    kept = unchanged_persons(tonight, before)
    assert sorted(kept["person_id"]) == ["P1", "P7"]
    mapping, events = assign_stable_person_ids(tonight, before, "run-2", **args)
    all_mapping, all_events = _assign(tonight, before, "run-2", **args)
    assert mapping.sort("record_key").equals(all_mapping.sort("record_key"))
    assert events.equals(all_events)
    assert set(events["event"]) == {"merged", "split", "retired", "created"}
