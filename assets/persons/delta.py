"""Persons of what changed: a person whose records are the same records as last night, with the
same values in every column the person rules read, keeps last night's row in `persons.persons`
(and in `persons.household_links`); only the other persons are chosen and tokenised again. The
tables are the ones a full computation gives, row for row (tested over generated nights).

A person's row depends only on their own records (survivorship and status are per person, tokens
per value), so it can be kept when
- the rules' code, the library versions and the pseudonym key are the same (`persons_fingerprint`
  and a token of a fixed text under the key), and
- no record of the person is new, gone, moved to or from another person, or changed in a column
  the rules read (a hash per record, `persons.record_state`).

The DTSEN delivery date, which the DTSEN status reads only to order one person's records, is the
same for every record of a night and is left out of the hash."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from assets.fingerprint import code_fingerprint
from assets.publish.pseudonym import token
from assets.warehouse import insert_rows, replace_table, table_exists

RECORD_STATE = "persons.record_state"
# Tonight's touched person ids, registered on the persons connection by plan_persons for the
# queries that read those persons only (kept_rows here, the status reads in assets.py).
TOUCHED = "__touched"
GONE = "__gone"  # and last night's persons with no record tonight
PERSONS_STATE = "persons.persons_state"
TOUCHED_TABLE = "persons.touched_persons"
# The DTSEN delivery date: one per night, read only as a tie-break within a person (see above).
NOT_HASHED = {"delivery_date"}


# The code that decides a person's row from their records (not the id rules: the ids are an input,
# through the record state).
PERSON_RULES = ("assets.py", "delta.py", "golden.py", "status.py")


@cache
def persons_fingerprint() -> str:
    here = Path(__file__).parent
    return code_fingerprint([*(here / name for name in PERSON_RULES), here.parent / "publish" / "pseudonym.py"],
                            ("polars", "duckdb"))


def key_check(key: bytes) -> str:
    """Tells whether last night used the same pseudonym key, without keeping the key."""
    return token(key, "key-check", "padu")


def record_hashes_sql(record_columns: list[str], status_columns: dict[str, list[str]]) -> str:
    """Per record of tonight: its person and a hash of every column the person rules read."""
    def hashed(columns: list[str]) -> str:
        return "hash(" + ", ".join(f'"{c}"' for c in columns if c not in NOT_HASHED) + ")"

    status = " UNION ALL ".join(
        f"SELECT '{source}' AS source, source_record_id, {hashed(columns)} AS h FROM staging.{source}"
        for source, columns in status_columns.items()
    )
    identity = [c for c in record_columns if c not in ("record_key", "source", "source_record_id")]
    return f"""
        SELECT r.record_key, i.person_id, hash(r.h, s.h) AS h
        FROM (SELECT record_key, source, source_record_id, {hashed(identity)} AS h FROM staging.person_records) r
        JOIN persons.person_ids i USING (record_key)
        LEFT JOIN ({status}) s USING (source, source_record_id)"""


@dataclass(frozen=True)
class PersonsPlan:
    full: bool
    reason: str
    touched: pl.Series | None = None  # tonight's person ids whose row is chosen again
    gone: pl.Series | None = None  # last night's person ids left with no record tonight


def plan_persons(con: duckdb.DuckDBPyConnection, key: bytes, full_requested: bool, hashes_sql: str) -> PersonsPlan:
    """Writes tonight's record hashes to `__record_state` (a temporary table) and says which
    persons to compute."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE __record_state AS {hashes_sql}")
    if full_requested:
        return PersonsPlan(True, "the run asks for a full rebuild")
    if not all(table_exists(con, t) for t in (RECORD_STATE, PERSONS_STATE, "persons.persons", "persons.household_links")):
        return PersonsPlan(True, "no previous persons")
    fingerprint, check = con.execute(f"SELECT fingerprint, key_check FROM {PERSONS_STATE}").fetchall()[0]
    if fingerprint != persons_fingerprint():
        return PersonsPlan(True, "the person rules' code changed")
    if check != key_check(key):
        return PersonsPlan(True, "the pseudonym key changed")
    # The records whose hash or person differ from last night's (or that are new or gone): kept
    # for save_state, which changes only their rows of the stored state.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __record_differ AS
        SELECT n.record_key AS now_key, o.record_key AS old_key, n.person_id AS now_id, o.person_id AS old_id
        FROM __record_state n FULL JOIN {RECORD_STATE} o ON n.record_key = o.record_key
        WHERE n.h IS DISTINCT FROM o.h OR n.person_id IS DISTINCT FROM o.person_id""")
    # Last night's persons of the records that differ: chosen again where they keep a record,
    # gone where they keep none (every record of a person gone tonight differs).
    old = con.sql("""
        SELECT person_id, person_id IN (SELECT person_id FROM __record_state) AS kept
        FROM (SELECT DISTINCT old_id AS person_id FROM __record_differ WHERE old_id IS NOT NULL)""").pl()
    touched = pl.concat([
        con.sql("SELECT DISTINCT now_id AS person_id FROM __record_differ WHERE now_id IS NOT NULL").pl()["person_id"],
        old.filter("kept")["person_id"],
    ]).unique()
    gone = old.filter(~pl.col("kept"))["person_id"]
    con.register(TOUCHED, pl.DataFrame({"person_id": touched}).to_arrow())
    con.register(GONE, pl.DataFrame({"person_id": gone}, schema={"person_id": pl.String}).to_arrow())
    return PersonsPlan(False, "unchanged persons kept", touched, gone)


def update_in_place(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
    """Last night's `table` made tonight's where it stands (after plan_persons, in its
    transaction): the rows of persons touched tonight or gone are deleted and `rows`, tonight's
    rows of the touched persons, inserted. The rows of untouched persons are neither read nor
    written again: rewriting a million rows to change one percent cost most of the step."""
    con.execute(f"""
        DELETE FROM {table}
        WHERE person_id IN (SELECT person_id FROM {TOUCHED} UNION ALL SELECT person_id FROM {GONE})""")
    insert_rows(con, table, rows)


def save_state(con: duckdb.DuckDBPyConnection, key: bytes, plan: PersonsPlan, persons_computed: int,
               run_id: str) -> None:
    """Inside the transaction that writes the persons tables: what the next night compares with,
    and what publishing reads (`TOUCHED_TABLE`: the persons whose rows changed tonight and those
    gone; `built_on_run_id`: the run whose rows the others are)."""
    built_on = None
    if not plan.full and "run_id" in (c[0] for c in con.execute(f"DESCRIBE {PERSONS_STATE}").fetchall()):
        built_on = con.execute(f"SELECT run_id FROM {PERSONS_STATE}").fetchone()[0]
    if plan.full:
        con.execute(f"CREATE OR REPLACE TABLE {RECORD_STATE} AS SELECT * FROM __record_state")
    else:  # the rows of the records that differ (plan_persons), where they stand: 0.4 s at 1M written whole
        con.execute(f"DELETE FROM {RECORD_STATE} WHERE record_key IN (SELECT old_key FROM __record_differ)")
        con.execute(f"INSERT INTO {RECORD_STATE} BY NAME SELECT s.* FROM __record_state s "
                    "SEMI JOIN __record_differ d ON s.record_key = d.now_key")
    touched = pl.Series([], dtype=pl.String) if plan.full else pl.concat([plan.touched, plan.gone])
    replace_table(con, TOUCHED_TABLE, pl.DataFrame({"person_id": touched}, schema={"person_id": pl.String}))
    replace_table(con, PERSONS_STATE, pl.DataFrame({
        "fingerprint": [persons_fingerprint()], "key_check": [key_check(key)], "reason": [plan.reason],
        "persons_computed": [persons_computed], "run_id": [run_id], "mode": ["full" if plan.full else "touched"],
        "built_on_run_id": [built_on]}, schema_overrides={"built_on_run_id": pl.String}))
