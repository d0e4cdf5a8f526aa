"""The touched persons' staged status rows, read through their records (TOUCHED_RECORDS): each
source's rows join the records of that source only, by the id cut from the record key."""

import duckdb
import polars as pl

from assets.persons.assets import STATUS_COLUMNS, _with_ids, note_touched_records
from assets.persons.delta import TOUCHED


def _store() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE SCHEMA persons")
    for source in ("p2mi_penempatan", "p2mi_kasus"):
        columns = ", ".join(f'"{c}" VARCHAR' for c in STATUS_COLUMNS[source])
        con.execute(f"CREATE TABLE staging.{source} (source_record_id VARCHAR, {columns})")
    # Two sources whose own ids overlap ("7"), as two ministries' numbering can; and a case id
    # that another source's record key ends in, past the length of "p2mi_kasus:"
    # ("p2mi_penempatan:7"), of a person not touched.
    con.execute("INSERT INTO staging.p2mi_penempatan (source_record_id, placement_status) "
                "VALUES ('7', 'BEKERJA'), ('8', 'PROSES'), ('17', 'TERDAFTAR')")
    con.execute("INSERT INTO staging.p2mi_kasus (source_record_id, case_type) VALUES ('7', 'TPPO'), ('atan:7', 'LAIN')")
    con.execute("CREATE TABLE persons.person_ids AS SELECT * FROM (VALUES ('p2mi_penempatan:7', 'P1'), "
                "('p2mi_penempatan:8', 'P3'), ('p2mi_penempatan:17', 'P1'), ('p2mi_kasus:7', 'P2'), "
                "('p2mi_kasus:atan:7', 'P3')) t(record_key, person_id)")
    return con


def _status_rows(con, source: str, touched: list[str]) -> list[tuple]:
    con.register(TOUCHED, pl.DataFrame({"person_id": touched}).to_arrow())
    note_touched_records(con)
    rows = _with_ids(con, source, touched=True)
    return sorted(rows.select("source_record_id", STATUS_COLUMNS[source][0], "person_id").iter_rows())


def test_a_touched_persons_status_rows_are_their_own_sources_rows_only():
    con = _store()
    assert _status_rows(con, "p2mi_kasus", ["P1", "P2"]) == [("7", "TPPO", "P2")]
    assert _status_rows(con, "p2mi_penempatan", ["P1", "P2"]) == [("17", "TERDAFTAR", "P1"), ("7", "BEKERJA", "P1")]


def test_an_untouched_persons_rows_are_not_read_and_a_full_read_gives_every_row():
    con = _store()
    assert _status_rows(con, "p2mi_penempatan", ["P3"]) == [("8", "PROSES", "P3")]
    every = _with_ids(con, "p2mi_penempatan", touched=False)
    assert sorted(every.select("source_record_id", "person_id").iter_rows()) == [
        ("17", "P1"), ("7", "P1"), ("8", "P3")]
