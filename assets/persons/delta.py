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

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from assets.fingerprint import code_fingerprint
from assets.publish.pseudonym import token
from assets.standardise.assets import REMADE_GEN
from assets.standardise.delta import staged_since
from assets.warehouse import insert_rows, replace_table, table_exists

RECORD_STATE = "persons.record_state"
# Tonight's touched person ids, registered on the persons connection by plan_persons for the
# queries that read those persons only (update_in_place here; in assets.py, the table of their
# records the reads of their rows join, TOUCHED_RECORDS).
TOUCHED = "__touched"
GONE = "__gone"  # and last night's persons with no record tonight
PERSONS_STATE = "persons.persons_state"
TOUCHED_TABLE = "persons.touched_persons"
# Per table the persons step updates in place, the rows it inserted tonight (those of the touched
# persons; empty after a full night): publishing appends them to the current version without
# finding them again among the million rows of the table (0.06 s a table at 1M).
TONIGHT_ROWS = {"persons.persons": "persons.persons_tonight",
                "persons.person_records": "persons.person_records_tonight",
                "persons.household_links": "persons.household_links_tonight"}
# The DTSEN delivery date: one per night, read only as a tie-break within a person (see above).
NOT_HASHED = {"delivery_date"}
# In the persons state: per source, the staged rows' run (standardise/delta.staged_run_id) read.
STAGED_RUN_IDS = "staged_run_ids"
# ... and the generations read: per source, of its staged rows (standardise/delta.STAGED_GEN), and
# of the common table's rows (standardise/assets.REMADE_GEN).
STAGED_GENS = "staged_gens"
REMADE_GEN_READ = "remade_gen"
# The records of the sources read from what changed (`plan_persons`), a temporary table: record_key,
# source, source_record_id.
SCOPE = "__persons_scope"


@dataclass(frozen=True)
class Generations:
    """Tonight's staging generations (standardise/delta.py): per source (last write, last full
    staging), and of the common table (last write, last whole write)."""

    staged: dict[str, tuple[int | None, int | None]]
    records: tuple[int | None, int | None]


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


def record_hashes_sql(record_columns: list[str], status_columns: dict[str, list[str]],
                      sources: list[str] | None = None, scoped: list[str] = ()) -> str:
    """Per record of tonight (of `sources` only, when given): its person and a hash of every
    column the person rules read. Of the sources in `scoped`, only the records in SCOPE."""
    def hashed(columns: list[str]) -> str:
        return "hash(" + ", ".join(f'"{c}"' for c in columns if c not in NOT_HASHED) + ")"

    def rows_of(source: str) -> str:
        if source not in scoped:
            return ""
        return f" WHERE source_record_id IN (SELECT source_record_id FROM {SCOPE} WHERE source = '{source}')"

    chosen = list(status_columns) if sources is None else [s for s in status_columns if s in sources]
    status = " UNION ALL ".join(
        f"SELECT '{source}' AS source, source_record_id, {hashed(status_columns[source])} AS h "
        f"FROM staging.{source}{rows_of(source)}"
        for source in chosen
    ) or "SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS source_record_id, NULL::UBIGINT AS h WHERE false"
    identity = [c for c in record_columns if c not in ("record_key", "source", "source_record_id")]
    whole = [source for source in sources or () if source not in scoped]
    where = "" if sources is None else (
        f"WHERE {_of_sources(whole, 'source')}"
        + (f" OR record_key IN (SELECT record_key FROM {SCOPE})" if scoped else ""))
    return f"""
        SELECT r.record_key, i.person_id, hash(r.h, s.h) AS h
        FROM (SELECT record_key, source, source_record_id, {hashed(identity)} AS h
              FROM staging.person_records {where}) r
        JOIN persons.person_ids i USING (record_key)
        LEFT JOIN ({status}) s USING (source, source_record_id)"""


def _of_sources(sources: list[str], source: str | None = None) -> str:
    """SQL: whether the record is one of `sources`'s, by its `source` column or, by default, by its
    `record_key` (`<source>:<id>`); false, not NULL, for none (it is negated)."""
    if not sources:
        return "false"
    if source is not None:
        return f"{source} IN ({', '.join(repr(s) for s in sources)})"
    return "(" + " OR ".join(f"prefix(record_key, {s + ':'!r})" for s in sources) + ")"


@dataclass(frozen=True)
class PersonsPlan:
    full: bool
    reason: str
    touched: pl.Series | None = None  # tonight's person ids whose row is chosen again
    gone: pl.Series | None = None  # last night's person ids left with no record tonight
    # The sources whose records were compared from what was written since (`_scoped_sources`), and
    # those compared whole.
    scoped: tuple[str, ...] = ()
    whole: tuple[str, ...] = ()


def _scoped_sources(con: duckdb.DuckDBPyConnection, state: dict, stale: list[str],
                    generations: Generations | None) -> list[str]:
    """The stale sources whose records can be compared from what was written since last night's
    persons read them (their generations then are known and not older than the last full
    writes), after filling SCOPE with those records: the common table's rows written since, the
    records of the staged rows written since (a status column changed), and the records gone."""
    read = json.loads(state.get(STAGED_GENS) or "{}")
    remade = state.get(REMADE_GEN_READ)
    if generations is None or remade is None or generations.records[1] is None or remade < generations.records[1]:
        return []
    scoped = [s for s in stale if read.get(s) is not None and generations.staged[s][1] is not None
              and read[s] >= generations.staged[s][1]]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE} (record_key VARCHAR, source VARCHAR, source_record_id VARCHAR)")
    for source in scoped:
        con.execute(f"""
            INSERT INTO {SCOPE}
            SELECT record_key, source, source_record_id FROM staging.person_records
            WHERE source = '{source}' AND {REMADE_GEN} > {remade}
            UNION SELECT '{source}:' || source_record_id, '{source}', source_record_id
            FROM ({staged_since(source, read[source])})
            UNION SELECT o.record_key, '{source}', NULL FROM {RECORD_STATE} o
            WHERE prefix(o.record_key, '{source}:') AND o.record_key NOT IN (
                SELECT record_key FROM staging.person_records WHERE source = '{source}')""")
    return scoped


def plan_persons(con: duckdb.DuckDBPyConnection, key: bytes, full_requested: bool, hashes_sql,
                 staged: dict[str, str | None], reassigned: str | None = None,
                 published_run_id: str | None = None, generations: Generations | None = None) -> PersonsPlan:
    """Writes tonight's record hashes (on a full night, to `__record_state`) or the records whose
    hash or person differ (to `__record_differ`), both temporary tables, and says which persons
    to compute. `hashes_sql(sources, scoped)` gives the record hashes of `sources` (None: all;
    of those in `scoped`, of the records in SCOPE only);
    `staged`: per source, the run that last wrote its staged rows (standardise/delta.py). A record
    of a source whose staged rows are the ones last night's persons read is the same record with
    the same values: only its person can differ, read from `persons.person_ids` against the stored
    state. On a night only P2MI delivers, DTSEN's million records are not hashed again.
    `reassigned`: a query of the only record keys tonight's ids step gave an id, when it built on
    the ids of `published_run_id` (the run that published the current version); when the stored
    state is that run's too, only their persons are compared (at 1M, comparing every record's
    took 0.15 s). `generations`: tonight's staging generations; of a stale source whose rows
    last night's persons read at known generations, only the records written since are compared
    (_scoped_sources; at 1M, hashing every DTSEN record took 0.55 s of a night every source
    delivered)."""

    def full(reason: str) -> PersonsPlan:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __record_state AS {hashes_sql(None)}")
        return PersonsPlan(True, reason)

    if full_requested:
        return full("the run asks for a full rebuild")
    if not all(table_exists(con, t) for t in (RECORD_STATE, PERSONS_STATE, "persons.persons", "persons.household_links")):
        return full("no previous persons")
    state = con.sql(f"SELECT * FROM {PERSONS_STATE}").pl().row(0, named=True)
    if state["fingerprint"] != persons_fingerprint():
        return full("the person rules' code changed")
    if state["key_check"] != key_check(key):
        return full("the pseudonym key changed")
    read = json.loads(state.get(STAGED_RUN_IDS) or "{}")
    stale = [s for s, run in staged.items() if run is None or read.get(s) != run]
    scoped = _scoped_sources(con, state, stale, generations)
    whole = [s for s in stale if s not in scoped]
    in_scope = (lambda alias: f"{alias}record_key IN (SELECT record_key FROM {SCOPE})" if scoped else "false")
    since = RECORD_STATE
    if reassigned is not None and published_run_id is not None and state.get("run_id") == published_run_id:
        since = f"(SELECT * FROM {RECORD_STATE} WHERE record_key IN ({reassigned}))"
    # The other records whose person changed, with their stored hash and tonight's person (few).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __record_moved AS
        SELECT o.record_key, i.person_id, o.h FROM {since} o JOIN persons.person_ids i USING (record_key)
        WHERE o.person_id IS DISTINCT FROM i.person_id AND NOT {_of_sources(whole)} AND NOT {in_scope("o.")}""")
    # The records whose hash or person differ from last night's (or that are new or gone), with
    # tonight's hash: tonight's hashes of the records of the sources staged since, and the moved
    # ones, against the stored state. Only these rows are kept (save_state writes them): keeping
    # every hashed record first took 0.25 s more at 1M when every source delivered.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __record_differ AS
        SELECT n.record_key AS now_key, o.record_key AS old_key, n.person_id AS now_id, o.person_id AS old_id,
               n.h AS now_h
        FROM ({hashes_sql(stale, scoped)} UNION ALL SELECT * FROM __record_moved) n FULL JOIN (
            SELECT * FROM {RECORD_STATE} WHERE {_of_sources(whole)} OR {in_scope("")}
            UNION ALL SELECT * FROM {since} SEMI JOIN __record_moved USING (record_key)) o
        ON n.record_key = o.record_key
        WHERE n.h IS DISTINCT FROM o.h OR n.person_id IS DISTINCT FROM o.person_id""")
    # Last night's persons of the records that differ: chosen again where they keep a record,
    # gone where they keep none (every record of a person gone tonight differs). Looked up among
    # tonight's ids through a semi join on them, so that DuckDB builds its hash table over these
    # persons, not over the 1.3M ids (at 1M, 0.055 s against 0.115 s for 11,248 persons).
    old = con.sql("""
        WITH o AS (SELECT DISTINCT old_id AS person_id FROM __record_differ WHERE old_id IS NOT NULL)
        SELECT person_id, person_id IN (SELECT person_id FROM persons.person_ids SEMI JOIN o USING (person_id)) AS kept
        FROM o""").pl()
    touched = pl.concat([
        con.sql("SELECT DISTINCT now_id AS person_id FROM __record_differ WHERE now_id IS NOT NULL").pl()["person_id"],
        old.filter("kept")["person_id"],
    ]).unique()
    gone = old.filter(~pl.col("kept"))["person_id"]
    con.register(TOUCHED, pl.DataFrame({"person_id": touched}).to_arrow())
    con.register(GONE, pl.DataFrame({"person_id": gone}, schema={"person_id": pl.String}).to_arrow())
    return PersonsPlan(False, "unchanged persons kept", touched, gone, tuple(scoped), tuple(whole))


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
               run_id: str, staged: dict[str, str | None], generations: Generations | None = None) -> None:
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
        con.execute(f"INSERT INTO {RECORD_STATE} BY NAME SELECT now_key AS record_key, now_id AS person_id, "
                    "now_h AS h FROM __record_differ WHERE now_key IS NOT NULL")
    touched = pl.Series([], dtype=pl.String) if plan.full else pl.concat([plan.touched, plan.gone])
    replace_table(con, TOUCHED_TABLE, pl.DataFrame({"person_id": touched}, schema={"person_id": pl.String}))
    replace_table(con, PERSONS_STATE, pl.DataFrame({
        "fingerprint": [persons_fingerprint()], "key_check": [key_check(key)], "reason": [plan.reason],
        "persons_computed": [persons_computed], "run_id": [run_id], "mode": ["full" if plan.full else "touched"],
        "built_on_run_id": [built_on], STAGED_RUN_IDS: [json.dumps(staged, sort_keys=True)],
        STAGED_GENS: [json.dumps({s: g[0] for s, g in generations.staged.items()} if generations else {},
                                 sort_keys=True)],
        REMADE_GEN_READ: [generations.records[0] if generations else None]},
        schema_overrides={"built_on_run_id": pl.String, REMADE_GEN_READ: pl.Int64}))
    con.execute(f"DROP TABLE IF EXISTS {SCOPE}")
