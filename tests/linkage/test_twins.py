"""Two established names in one register (assets/linkage/twins.py): two rows of one source born on
one day under two established names are two people when they share a card and one NIK is missing
(twins), or are on two cards without one NIK; a typed-over duplicate, a name written short, two
sources, one card with two NIKs or an unknown card are left to the model."""

from __future__ import annotations

from datetime import date

import polars as pl

from assets.linkage.rules import load_rules
from assets.linkage.twins import COLUMNS, twin_cannot_links

KK, DAY = "3212051108110001", date(2012, 6, 23)
TOTAL = 50_000


def shares(total: int = TOTAL, **holders: int) -> pl.DataFrame:
    """The model's term frequencies of the names given, each held by that many of `total` people."""
    return pl.DataFrame({
        "name_key": list(holders), "tf_name_key": [n / total for n in holders.values()],
        "total": [total] * len(holders),
    })


NAMES = shares(**{"NAILA PUTRI": 10, "NAILI PUTRI": 10, "AULIA PUTRI": 250, "AULIA PTURI": 1, "AULIA": 29})


def rows(*records: tuple) -> pl.DataFrame:
    """(record key, NIK, name, card, birth date[, DTSEN family id[, the date a default]]) per record."""
    return pl.DataFrame([(*r, None, False)[:7] if len(r) == 5 else (*r, False)[:7] for r in records],
                        schema={"record_key": pl.String, "nik": pl.String, "name_key": pl.String, "kk": pl.String,
                                "birth_date": pl.Date, "family_id": pl.String, "birth_date_is_default": pl.Boolean},
                        orient="row").with_columns(
        pl.col("name_key").str.replace_all(" ", "", literal=True).alias("name_key_nospace"))


def twins(records: pl.DataFrame, names: pl.DataFrame = NAMES, min_share: float = 0.0001, holders: int = 3) -> list:
    keys = records["record_key"].to_list()
    pairs = pl.DataFrame({"record_key_l": [keys[0]], "record_key_r": [keys[1]]})
    records_of = lambda wanted: records.join(wanted, on="record_key", how="semi").select(COLUMNS)
    return twin_cannot_links(pairs, records_of, names, min_share, holders).rows()


def test_twins_with_established_names_and_one_nik_are_a_cannot_link():
    a = ("dtsen_individu:1", "3212056306120001", "NAILA PUTRI", KK, DAY)
    b = ("dtsen_individu:2", None, "NAILI PUTRI", KK, DAY)
    assert twins(rows(a, b)) == [("dtsen_individu:1", "dtsen_individu:2")]


def test_twins_one_of_them_on_a_default_date_of_their_year_are_a_cannot_link():
    # DIMAS PRASETYO born 2011-11-14, his twin DIMAS PRASETYA entered on 31 December 2011 (the
    # register knew the year only); another year, or no default date, is not one birth
    names = shares(**{"DIMAS PRASETYO": 12, "DIMAS PRASETYA": 9})
    a = ("dtsen_individu:1", "3209371411110001", "DIMAS PRASETYO", KK, date(2011, 11, 14))
    assert twins(rows(a, ("dtsen_individu:2", None, "DIMAS PRASETYA", KK, date(2011, 12, 31), None, True)),
                 names) == [("dtsen_individu:1", "dtsen_individu:2")]
    assert twins(rows(a, ("dtsen_individu:2", None, "DIMAS PRASETYA", KK, date(2012, 12, 31), None, True)),
                 names) == []
    assert twins(rows(a, ("dtsen_individu:2", None, "DIMAS PRASETYA", KK, date(2011, 12, 31))), names) == []


def test_a_twin_whose_name_lost_a_space_keeps_her_established_name():
    # NAIL IPUTRI is NAILI PUTRI with a space slipped: established, and not her sister's name; a
    # space slipped within one name (NAILA PUTRI and NAIL APUTRI) is one name
    a = ("dtsen_individu:1", "3212056306120001", "NAILA PUTRI", KK, DAY)
    assert twins(rows(a, ("dtsen_individu:2", None, "NAIL IPUTRI", KK, DAY))) == [
        ("dtsen_individu:1", "dtsen_individu:2")]
    assert twins(rows(a, ("dtsen_individu:2", None, "NAIL APUTRI", KK, DAY))) == []


def test_a_typed_over_duplicate_and_a_name_written_short_are_left_to_the_model():
    a = ("dtsen_individu:1", "3212056306120001", "AULIA PUTRI", KK, DAY)
    assert twins(rows(a, ("dtsen_individu:2", None, "AULIA PTURI", KK, DAY))) == []  # held by one person
    assert twins(rows(a, ("dtsen_individu:2", None, "AULIA", KK, DAY))) == []  # all its words in the other


def test_a_name_written_with_initials_on_one_card_is_left_to_the_model():
    names = shares(**{"AULIA PUTRI": 250, "AULIA P": 40})
    a = ("dtsen_individu:1", "3212056306120001", "AULIA PUTRI", KK, DAY)
    assert twins(rows(a, ("dtsen_individu:2", None, "AULIA P", KK, DAY)), names) == []
    # on two cards it may be a namesake born the same day
    assert twins(rows(a, ("dtsen_individu:2", None, "AULIA P", "3212051108110002", DAY)), names) == [
        ("dtsen_individu:1", "dtsen_individu:2")]


def test_two_cards_and_two_niks_under_two_established_names_are_two_people():
    a = ("dtsen_individu:1", "3212056306120001", "NAILA PUTRI", KK, DAY)
    other_card = "3212051108110002"
    pair = [("dtsen_individu:1", "dtsen_individu:2")]
    assert twins(rows(a, ("dtsen_individu:2", None, "NAILI PUTRI", other_card, DAY))) == pair
    assert twins(rows(a, ("dtsen_individu:2", "3212056306120002", "NAILI PUTRI", other_card, DAY))) == pair
    # ... but one NIK on two cards is one person who moved
    assert twins(rows(a, ("dtsen_individu:2", "3212056306120001", "NAILI PUTRI", other_card, DAY))) == []


def test_other_sources_dates_one_card_with_two_niks_and_unknown_cards_are_left_to_the_model():
    a = ("dtsen_individu:1", "3212056306120001", "NAILA PUTRI", KK, DAY)
    assert twins(rows(a, ("sr_siswa:SR1", None, "NAILI PUTRI", KK, DAY))) == []
    assert twins(rows(a, ("dtsen_individu:2", None, "NAILI PUTRI", KK, date(2012, 6, 24)))) == []
    assert twins(rows(a, ("dtsen_individu:2", "3212056306120002", "NAILI PUTRI", KK, DAY))) == []
    assert twins(rows(a, ("dtsen_individu:2", None, "NAILI PUTRI", None, DAY))) == []


def test_one_dtsen_family_is_one_card_where_a_card_number_is_missing():
    # RIZKI and RIZKA ANANDA, twins of family 300683837; only the brother's row gives the card
    names = shares(**{"RIZKI ANANDA": 12, "RIZKA ANANDA": 9})
    a = ("dtsen_individu:1", None, "RIZKI ANANDA", "3218060211170001", DAY, "300683837")
    b = ("dtsen_individu:2", "3218066404110001", "RIZKA ANANDA", None, DAY, "300683837")
    assert twins(rows(a, b), names) == [("dtsen_individu:1", "dtsen_individu:2")]
    # another family, card unknown: nothing says one card or two
    assert twins(rows(a, (*b[:5], "300000001")), names) == []
    # one family, a card number missing, two NIKs: the card comparison cannot see the card
    c = ("dtsen_individu:2", "3501096404110001", "RIZKA ANANDA", None, DAY, "300683837")
    assert twins(rows((*a[:1], "3218061204110001", *a[2:]), c), names) == [("dtsen_individu:1", "dtsen_individu:2")]
    # a name written short in one family is the other row's name
    names = shares(**{"RIZKI ANANDA": 12, "RIZKI A": 5})
    assert twins(rows(a, ("dtsen_individu:2", None, "RIZKI A", None, DAY, "300683837")), names) == []


def test_in_a_small_population_a_share_is_not_enough():
    few = shares(5_000, **{"NAILA PUTRI": 2, "NAILI PUTRI": 2})  # a share of 0.0004, but two people
    a = ("dtsen_individu:1", "3212056306120001", "NAILA PUTRI", KK, DAY)
    b = ("dtsen_individu:2", None, "NAILI PUTRI", KK, DAY)
    assert twins(rows(a, b), few) == []
    assert twins(rows(a, b), few, holders=2) == [("dtsen_individu:1", "dtsen_individu:2")]


def test_the_rules_file_sets_the_twin_rule():
    share, holders = load_rules().twin_name_rule
    assert 0 < share < 0.001 and holders >= 2


def test_a_night_that_links_incrementally_looks_for_twins_among_its_touched_pairs_only(tmp_path):
    # Night 1 finds two twin pairs; on night 2 one twin gets another name, a duplicate row of
    # another becomes a twin, and a new row is scored with a twin. Looking among the pairs of
    # the new and changed records, and keeping last night's other twins, finds what a search of
    # every pair finds; a night on another model searches every pair.
    from assets.linkage.assets import TWINS, TWINS_STATE, _twins_tonight
    from assets.warehouse import warehouse_in

    warehouse, rules = warehouse_in(tmp_path), load_rules()
    names = shares(**{"NAILA PUTRI": 10, "NAILI PUTRI": 10, "FAYAR RAMADAN": 10, "FAYRI RAMADAN": 10,
                      "DIMAS PRASETYO": 10, "DIMAS PRASETYA": 10})
    other_card = "3212051108110002"
    night1 = rows(("dtsen_individu:1", None, "NAILA PUTRI", KK, DAY),
                  ("dtsen_individu:2", "3212056306120001", "NAILI PUTRI", KK, DAY),
                  ("dtsen_individu:3", None, "FAYAR RAMADAN", other_card, DAY),
                  ("dtsen_individu:4", "3212052306120002", "FAYRI RAMADAN", other_card, DAY),
                  ("dtsen_individu:5", None, "DIMAS PRASETYO", KK, DAY),
                  ("dtsen_individu:6", None, "DIMAS PRASETYO", KK, DAY))
    pairs1 = pl.DataFrame({"record_key_l": ["dtsen_individu:1", "dtsen_individu:3", "dtsen_individu:5"],
                           "record_key_r": ["dtsen_individu:2", "dtsen_individu:4", "dtsen_individu:6"]})

    def night(records: pl.DataFrame, pairs: pl.DataFrame, state: dict, changes: dict, model: str = "m1"):
        warehouse.write({"staging.person_records": records.select(COLUMNS),
                         "linkage.record_changes": pl.DataFrame({"record_key": list(changes),
                                                                 "change": list(changes.values())},
                                                                schema={"record_key": pl.String, "change": pl.String})})
        found, state_row, how = _twins_tonight(warehouse, pairs, state, warehouse.read("linkage.record_changes"),
                                               model, {"name_key": names}, rules)
        warehouse.write({TWINS: found, TWINS_STATE: state_row})
        return found.rows(), how

    first, how = night(night1, pairs1, {"mode": "full", "run_id": "r1", "previous_run_id": None}, {})
    assert how == "among all the scored pairs"
    assert first == [("dtsen_individu:1", "dtsen_individu:2"), ("dtsen_individu:3", "dtsen_individu:4")]

    night2 = pl.concat([night1.filter(~pl.col("record_key").is_in(["dtsen_individu:4", "dtsen_individu:6"])), rows(
        ("dtsen_individu:4", "3212052306120002", "FAYAR RAMADAN", other_card, DAY),  # one name now: no twins
        ("dtsen_individu:6", None, "DIMAS PRASETYA", KK, DAY),                        # a twin now
        ("dtsen_individu:7", None, "NAILA PUTRI", KK, DAY))])                          # new: its twin is row 2
    pairs2 = pl.concat([pairs1, pl.DataFrame({"record_key_l": ["dtsen_individu:2"],
                                              "record_key_r": ["dtsen_individu:7"]})])
    changes = {"dtsen_individu:4": "changed", "dtsen_individu:6": "changed", "dtsen_individu:7": "new"}
    second, how = night(night2, pairs2, {"mode": "incremental", "run_id": "r2", "previous_run_id": "r1"}, changes)
    assert how == "among the 3 pairs of new and changed records; 1 kept"
    whole = twin_cannot_links(pairs2, lambda keys: night2.join(keys, on="record_key", how="semi").select(COLUMNS),
                              names, *rules.twin_name_rule).rows()
    assert second == whole == [("dtsen_individu:1", "dtsen_individu:2"), ("dtsen_individu:2", "dtsen_individu:7"),
                               ("dtsen_individu:5", "dtsen_individu:6")]
    # Another model (or rule, or code, or a night not built on the twins stored): every pair again.
    third, how = night(night2, pairs2, {"mode": "incremental", "run_id": "r3", "previous_run_id": "r2"}, {}, "m2")
    assert (third, how) == (whole, "among all the scored pairs")
