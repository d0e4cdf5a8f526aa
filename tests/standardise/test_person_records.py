"""The common linkage schema (`person_records_sql`, run by the nightly stage on the staged tables
in DuckDB and by `to_person_records` on a frame): keys, the shared household key and the key of
records that only a name can find."""

from __future__ import annotations

from datetime import date

import polars as pl

from assets.standardise.sources import PERSON_RECORD_COLUMNS, to_person_records


def staged(rows: list[dict], family_id: bool) -> pl.DataFrame:
    schema = {c: pl.String for c in PERSON_RECORD_COLUMNS}
    schema |= {"delivery_date": pl.Date, "nik_birth_date": pl.Date, "birth_date": pl.Date, "birth_year": pl.Int32,
               "nik_matches_birth_date": pl.Boolean, "birth_date_is_default": pl.Boolean}
    for derived in ("record_key", "source", "household_key", "lone_name_key"):
        del schema[derived]
    if family_id:
        schema["family_id"] = pl.String
    schema["delivered_text"] = pl.String  # a delivered column: not in the common schema
    return pl.DataFrame([{c: row.get(c) for c in schema} for row in rows], schema=schema)


def test_keys_household_and_lone_name_key():
    rows = [
        dict(source_record_id="1", nik="3201010101900001", birth_date=date(1990, 1, 1), kk="3201000000000001",
             family_id="F1", name_key_nospace="SITIAMINAH", delivered_text="x"),
        dict(source_record_id="2", nik=None, birth_date=None, birth_year=1985, kk=None, family_id="F2",
             name_key_nospace="BUDISANTOSO"),
        dict(source_record_id="3", nik=None, birth_date=date(1970, 5, 2), kk=None, family_id=None,
             name_key_nospace="AGUS"),
    ]
    dtsen = to_person_records("dtsen_individu", staged(rows, family_id=True))
    assert dtsen.columns == PERSON_RECORD_COLUMNS
    assert dtsen["record_key"].to_list() == ["dtsen_individu:1", "dtsen_individu:2", "dtsen_individu:3"]
    assert dtsen["source"].unique().to_list() == ["dtsen_individu"]
    # The family card where there is one, else DTSEN's own family id; neither: no household.
    assert dtsen["household_key"].to_list() == ["3201000000000001", "DTSEN-F2", None]
    # Only a record with neither a NIK nor a full birth date is looked for by its name alone.
    assert dtsen["lone_name_key"].to_list() == [None, "BUDISANTOSO", None]
    assert dtsen["birth_year"].to_list()[1] == 1985 and dtsen.schema["birth_date"] == pl.Date

    cases = to_person_records("p2mi_kasus", staged(rows[1:], family_id=False))
    assert cases["record_key"].to_list() == ["p2mi_kasus:2", "p2mi_kasus:3"]
    assert cases["household_key"].to_list() == [None, None]  # no DTSEN family id outside DTSEN
    assert cases["lone_name_key"].to_list() == ["BUDISANTOSO", None]


def test_a_case_passport_that_no_placement_carries_is_flagged():
    from assets.frames import query_frames
    from assets.standardise.sources import PASSPORT_ON_NO_PLACEMENT

    union = pl.DataFrame({
        "record_key": ["p2mi_penempatan:1", "p2mi_kasus:A", "p2mi_kasus:B", "p2mi_kasus:C", "dtsen_individu:9"],
        "source": ["p2mi_penempatan", "p2mi_kasus", "p2mi_kasus", "p2mi_kasus", "dtsen_individu"],
        "passport": ["C1234567", "C1234567", "X7654321", None, None],
        "passport_on_no_placement": pl.Series([None] * 5, dtype=pl.Boolean),
    })
    placements = union.filter(pl.col("source") == "p2mi_penempatan")
    sql = PASSPORT_ON_NO_PLACEMENT.format(records="__u", placements="__p") + " ORDER BY record_key"
    flagged = query_frames(sql, {"__u": union, "__p": placements})
    assert dict(flagged.select("record_key", "passport_on_no_placement").iter_rows()) == {
        "dtsen_individu:9": False,
        "p2mi_kasus:A": False,  # its placement's passport
        "p2mi_kasus:B": True,  # a passport no placement carries
        "p2mi_kasus:C": False,  # no passport given
        "p2mi_penempatan:1": False,
    }
    assert flagged.columns == union.columns


def test_a_dtsen_row_without_a_card_is_in_its_familys_household():
    rows = [
        # family F1: the card on two rows, missing on the third (SRI WAHYUNINGSI, her twin's card)
        dict(source_record_id="1", kk="3271050910180001", family_id="F1", family_relation="KEPALA KELUARGA"),
        dict(source_record_id="2", kk="3271050910180001", family_id="F1", family_relation="ANAK"),
        dict(source_record_id="3", kk=None, family_id="F1", family_relation="ANAK"),
        # family F2: two cards among its rows, so which one is unknown
        dict(source_record_id="4", kk="3201000000000001", family_id="F2"),
        dict(source_record_id="5", kk="3201000000000002", family_id="F2"),
        dict(source_record_id="6", kk=None, family_id="F2"),
        # family F3: no card at all, the family id stands in; a row without a family keeps none
        dict(source_record_id="7", kk=None, family_id="F3"),
        dict(source_record_id="8", kk=None, family_id=None),
    ]
    dtsen = to_person_records("dtsen_individu", staged(rows, family_id=True))
    assert dtsen["record_key"].to_list() == [f"dtsen_individu:{i}" for i in range(1, 9)]  # in their order
    # the linkage keeps the delivered card
    assert dtsen["kk"].to_list() == ["3271050910180001"] * 2 + [None, "3201000000000001", "3201000000000002"] + [None] * 3
    assert dtsen["household_key"].to_list() == ["3271050910180001"] * 3 + [
        "3201000000000001", "3201000000000002", "DTSEN-F2", "DTSEN-F3", None]
    assert dtsen["family_relation"].to_list()[:3] == ["KEPALA KELUARGA", "ANAK", "ANAK"]
    # outside DTSEN a missing card stays missing, and there is no family
    cases = to_person_records("p2mi_kasus", staged(rows[:3], family_id=False))
    assert cases["household_key"].to_list() == ["3271050910180001", "3271050910180001", None]
    assert cases["family_id"].to_list() == [None] * 3
