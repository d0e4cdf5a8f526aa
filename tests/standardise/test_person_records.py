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


def test_dtsen_records_remade_from_the_rows_staged_again_and_their_families_equal_a_full_build():
    """staging/person_records on a night DTSEN delivered: only the rows staged since the table took
    the source are made again, with every row of their families and of the families of records
    gone or moved; the table equals one built from every staged row."""
    import duckdb

    from assets.linkage.rules import load_rules
    from assets.standardise.assets import (
        REMADE_GEN, _restaged_rows, hashed_records_query, note_restaged, records_query, update_person_records,
    )
    from assets.standardise.delta import STAGED_GEN

    def night(rows: list[dict], generations: dict[str, int]) -> pl.DataFrame:
        frame = staged(rows, family_id=True).with_columns(delivery_date=pl.lit(date(2026, 11, 28)))
        return frame.with_columns(pl.col("source_record_id").replace_strict(generations, return_dtype=pl.Int64)
                                  .alias(STAGED_GEN))

    card_a, card_b = "3271050910180001", "3201000000000001"
    night1 = [
        dict(source_record_id="1", kk=card_a, family_id="F1"), dict(source_record_id="2", kk=card_a, family_id="F1"),
        dict(source_record_id="3", kk=None, family_id="F1"),
        dict(source_record_id="4", kk=card_b, family_id="F2"), dict(source_record_id="5", kk="3201000000000002",
                                                                     family_id="F2"),
        dict(source_record_id="6", kk=None, family_id="F2"), dict(source_record_id="7", kk=None, family_id="F3"),
        dict(source_record_id="8", kk=None, family_id="F3"), dict(source_record_id="9", kk=card_a, family_id="F5"),
    ]
    night2 = [
        night1[0], dict(source_record_id="2", kk=card_b, family_id="F1"),  # F1 now holds two cards
        night1[2], night1[3], night1[5],  # 5 gone: F2 holds one card again
        dict(source_record_id="7", kk=None, family_id="F4"), night1[7], night1[8],  # 7 moves out of F3
    ]
    keys = load_rules().capped_block_keys
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.p2mi_penempatan (passport VARCHAR)")
    con.register("__night1", night(night1, dict.fromkeys("123456789", 1)).to_arrow())
    con.execute("CREATE TABLE staging.dtsen_individu AS SELECT * FROM __night1")
    con.execute(f"CREATE TABLE staging.person_records AS {records_query(['dtsen_individu'], keys, 1)}")
    con.register("__night2", night(night2, dict.fromkeys("123456789", 1) | {"2": 2, "7": 2}).to_arrow())
    con.execute("CREATE OR REPLACE TABLE staging.dtsen_individu AS SELECT * FROM __night2")

    since = {"dtsen_individu": 1}
    note_restaged(con, since)
    hashed = hashed_records_query(["dtsen_individu"], {"dtsen_individu": _restaged_rows("dtsen_individu", 1)})
    changed = update_person_records(con, hashed, keys, ["dtsen_individu"], since, generation=2)

    stored = con.sql("SELECT * FROM staging.person_records ORDER BY record_key").pl()
    full = con.sql(f"SELECT * FROM ({records_query(['dtsen_individu'], keys, 2)}) ORDER BY record_key").pl()
    assert stored["source_record_id"].to_list() == full["source_record_id"].to_list()
    assert stored.drop(REMADE_GEN).equals(full.select(stored.columns).drop(REMADE_GEN))
    # the rows written again carry the generation that wrote them
    assert dict(zip(stored["source_record_id"], stored[REMADE_GEN])) == {
        "1": 1, "2": 2, "3": 2, "4": 1, "6": 2, "7": 2, "8": 1, "9": 1}
    # 3 and 6 were not staged again, but their families' cards changed
    assert dict(zip(stored["source_record_id"], stored["household_key"])) == {
        "1": card_a, "2": card_b, "3": "DTSEN-F1", "4": card_b, "6": card_b, "7": "DTSEN-F4", "8": "DTSEN-F3", "9": card_a}
    # F1's rows (2 staged again), F2's (5 gone), F3's (7 moved out) and 7 in F4 made again, not
    # F5's; the rows of 2, 3, 5, 6 and 7 replaced or deleted
    assert (changed["compared"], changed["deleted"], changed["inserted"]) == (7, 5, 4)
