"""Staging layer: each source standardised (`staging.<source>`), then all four in the one common
linkage schema (`staging.person_records`) with the links the sources state themselves."""

import json
from functools import partial

import dagster as dg
import polars as pl

from assets.linkage.rules import load_rules
from assets.metadata import markdown_table, value_counts_sql
from assets.sources.contracts import CONTRACTS
from assets.sources.ingest import PROVENANCE
from assets.standardise.block_keys import recount_capped_keys, touched_blocks, with_capped_keys
from assets.standardise.delta import (
    STAGED_GEN, STAGED_RUN_ID, clear_state, next_generation, plan_staging, stage_changed_rows, staged_generations,
    staged_counts, staged_run_id, staged_since, write_state,
)
from assets.standardise.issues import flag_invalid_values, issue_counts_sql
from assets.standardise.sources import (
    PASSPORT_ON_NO_PLACEMENT, PERSON_RECORD_COLUMNS, READS_OTHER_SOURCES, STAGERS, person_records_sql,
)
from assets.warehouse import Warehouse, full_rebuild_requested, replace_table, table_exists

STAGING_GROUP = "staging"
# A hash of a common-schema row's columns but its delivery date: what an incremental night compares.
CONTENT_HASH = "_content_hash"
# Delivered columns a stager replaces by their standardised value under the same name.
STANDARDISED_IN_PLACE = frozenset({"nik", "desil"})


def raw_copies(source: str, raw_columns: list[str]) -> list[str]:
    """The columns a staged table would only copy: they stay in `raw.<source>` alone. These are
    the delivered columns (at 1M persons DTSEN staging wrote 63 columns, 17 of them copies;
    without them the table writes in 1.3 s instead of 2.3 s) and the row's provenance (file, row
    number, delivery date), which changes every night for nearly every row of a snapshot. Staging
    keeps the primary key and the row hashes (`_row_hash`, `_row_hash_2`), unique in the raw
    table, which join a staged row to its raw one and its provenance."""
    keep = {CONTRACTS[source].primary_key} | STANDARDISED_IN_PLACE
    return [c for c in raw_columns if (not c.startswith("_") and c not in keep) or c in PROVENANCE]


def staged_rows(source: str, raw: pl.DataFrame) -> pl.DataFrame:
    """The staged rows of `raw` (rows of `raw.<source>`): standardised, with their invalid values
    flagged, without the columns the raw table keeps (`raw_copies`)."""
    return flag_invalid_values(source, raw, STAGERS[source](raw)).drop(raw_copies(source, raw.columns))


# Rows standardised at a time. DTSEN staging peaked at 2.5 GB in 500k-row slices and 2.7 GB whole
# at 1M persons, 17.7 GB whole at 10M records: a slice bounds it whatever the delivery's size.
STAGING_CHUNK_ROWS = 500_000


def build_staging_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["staging", source],
        deps=[dg.AssetKey(["raw", source])],
        group_name=STAGING_GROUP,
        description=f"{CONTRACTS[source].description} Standardised: typed values, NIK, names, "
        "dates, sex and region codes; a present value that is invalid becomes null and "
        "`value_issues` says which column and why. The delivered text stays in `raw.<source>`, "
        "joined on `_row_hash` and `_row_hash_2` (with the file, row number and delivery date).",
        kinds={"duckdb", "polars"},
    )
    def staging_source(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        full_requested = full_rebuild_requested(context)
        table = f"staging.{source}"
        with warehouse.transaction() as con:
            plan = plan_staging(con, source, full_requested)
            generation = None if plan.unchanged else next_generation(con)
            if plan.full:
                clear_state(con, source)
            elif plan.unchanged:  # the same raw table as last night: nothing to stage or write
                rows, restaged = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], 0
                # The same rows, so the same counts (at 1M, counting DTSEN's again took 0.1 s).
                counts = staged_counts(con, source) or _staged_counts(con, table)
                write_state(con, source, plan, rows, restaged, context.run.run_id, generation, counts)
            else:  # only new and changed rows through the staging code, all in this transaction
                rows, restaged = stage_changed_rows(con, source, plan, partial(staged_rows, source), generation)
                counts = _staged_counts(con, table)
                write_state(con, source, plan, rows, restaged, context.run.run_id, generation, counts)
        if plan.full:
            # Row by row, so in slices: memory is bounded by the slice, not by the delivery.
            rows = warehouse.write_chunks(table, (
                staged_rows(source, raw).with_columns(pl.lit(generation, pl.Int64).alias(STAGED_GEN))
                for raw in warehouse.read_chunks(f"raw.{source}", STAGING_CHUNK_ROWS)
            ))
            restaged = rows
            with warehouse.transaction() as con:
                counts = _staged_counts(con, table)
                write_state(con, source, plan, rows, restaged, context.run.run_id, generation, counts)
        context.log.info(f"staging.{source}: {restaged} of {rows} rows staged tonight ({plan.reason})")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "rows_staged_tonight": restaged,
                "staging_mode": "full" if plan.full else "kept" if plan.unchanged else "changed rows only",
                "staging_reason": plan.reason,
                # The tables as markdown, the numbers as numbers.
                **{name: dg.MetadataValue.md(value) if isinstance(value, str) else value
                   for name, value in json.loads(counts).items()},
            }
        )

    return staging_source


def _staged_counts(con, table: str) -> str:
    """The staged rows' counts for the staging asset's metadata (issues per kind as markdown
    tables, valid NIKs, regencies found), as JSON: counts and issue names only, never a value."""
    valid_nik, with_regency = con.execute(f"SELECT count(nik), count(regency_code) FROM {table}").fetchall()[0]
    return json.dumps({
        "nik_issues": markdown_table(con.sql(value_counts_sql(table, "nik_issue")).pl()).value,
        "birth_date_issues": markdown_table(con.sql(value_counts_sql(table, "birth_date_issue")).pl()).value,
        "invalid_values": markdown_table(con.sql(issue_counts_sql(table)).pl()).value,
        "with_valid_nik": int(valid_nik),
        "with_regency": int(with_regency),
    })


staging_source_assets = [build_staging_asset(s) for s in CONTRACTS]


def stated_links(placements: pl.DataFrame, cases: pl.DataFrame) -> pl.DataFrame:
    """A case that names its placement (`id_penempatan`) is the same person as that placement."""
    return (
        cases.filter(pl.col("placement_id").is_not_null())
        .join(placements.select(pl.col("source_record_id").alias("placement_id")), on="placement_id")
        .select(
            (pl.lit("p2mi_kasus:") + pl.col("source_record_id")).alias("record_key_l"),
            (pl.lit("p2mi_penempatan:") + pl.col("placement_id")).alias("record_key_r"),
            pl.lit("case names its placement").alias("reason"),
        )
    )


@dg.asset(
    key=["staging", "person_records"],
    deps=[a.key for a in staging_source_assets],
    group_name=STAGING_GROUP,
    description="Every accepted record of the four sources in one linkage schema, one row per "
    "record, keyed by `record_key` = `<source>:<source_record_id>`. Updated where it stands on a "
    "night that does not rebuild everything (`_content_hash` tells a changed row). Also writes "
    "`staging.stated_links`: pairs the sources themselves say are one person.",
    kinds={"duckdb", "polars"},
)
def person_records(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    # In DuckDB from the staged tables where they are: the rows never come through Python (in
    # Python, one source at a time through part tables, it took twice as long).
    links = stated_links(
        warehouse.read("staging.p2mi_penempatan", ["source_record_id"]),
        warehouse.read("staging.p2mi_kasus", ["source_record_id", "placement_id"]),
    )
    keys = load_rules().capped_block_keys
    with warehouse.transaction() as con:
        staged = {source: staged_run_id(con, source) for source in CONTRACTS}
        in_place = not full_rebuild_requested(context) and table_exists(con, RECORDS_STATE) and _same_columns(
            con, "staging.person_records", records_query(list(CONTRACTS), keys, 0))
        generations = {source: staged_generations(con, source) for source in CONTRACTS}
        synced = _synced(con) if in_place else {}
        stale = _stale_sources(synced, staged) if in_place else list(CONTRACTS)
        generation = next_generation(con) if stale else None
        if in_place:
            since = _restaged_since(con, stale, synced, generations)
            if stale:
                note_restaged(con, since)
                hashed = hashed_records_query(stale, {s: _restaged_rows(s, took) for s, took in since.items()})
                changed = update_person_records(con, hashed, keys, stale, since, generation)
            else:
                changed = {}
        else:
            con.execute(f"CREATE OR REPLACE TABLE staging.person_records AS {records_query(list(CONTRACTS), keys, generation)}")
        if generation is not None:
            full_gen = records_generations(con)[1] if in_place else generation
            replace_table(con, RECORDS_STATE, pl.DataFrame({"remade_gen": [generation], "full_gen": [full_gen]}))
        replace_table(con, SYNCED_TABLE, pl.DataFrame(
            {"source": list(staged), STAGED_RUN_ID: list(staged.values()),
             "staged_gen": [generations[source][0] for source in staged]},
            schema={"source": pl.String, STAGED_RUN_ID: pl.String, "staged_gen": pl.Int64}))
        con.register("__links", links.to_arrow())
        con.execute("CREATE OR REPLACE TABLE staging.stated_links AS SELECT * FROM __links")
    per_source = warehouse.query(
        "SELECT source, count(*) AS records, round(avg((nik IS NOT NULL)::INT), 3) AS share_valid_nik, "
        "round(avg((birth_date IS NOT NULL)::INT), 3) AS share_birth_date, "
        "round(avg((regency_code IS NOT NULL)::INT), 3) AS share_regency "
        "FROM staging.person_records GROUP BY source ORDER BY source"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(per_source["records"].sum()),
            "per_source": markdown_table(per_source),
            "stated_links": links.height,
            "table_written": "whole" if not in_place else "kept: no source's staged rows changed" if not stale
            else (f"in place ({', '.join(stale)}): {changed['inserted']} rows inserted, {changed['deleted']} deleted, "
                  f"{changed['keys_moved']} blocking keys moved; {changed['compared']} records compared"),
        }
    )


def _same_columns(con, table: str, query: str) -> bool:
    """Whether `table` exists with the columns and types `query` gives."""
    if not table_exists(con, table):
        return False
    stored, tonight = con.sql(f"SELECT * FROM {table} LIMIT 0"), con.sql(f"SELECT * FROM ({query}) LIMIT 0")
    return list(zip(stored.columns, map(str, stored.types))) == list(zip(tonight.columns, map(str, tonight.types)))


# Per source, the `staged_run_id` of the staged rows `staging.person_records` holds.
SYNCED_TABLE = "staging.person_records__synced"
# The staging generation (standardise/delta.next_generation) of each row's last write
# (`_remade_gen`, a column of the table): `persons/persons` reads only the records written since it
# last read the table. RECORDS_STATE keeps the generation of the last write (`remade_gen`) and of
# the last time the table was written whole (`full_gen`).
REMADE_GEN = "_remade_gen"
RECORDS_STATE = "staging.person_records__state"


def records_generations(con) -> tuple[int | None, int | None]:
    """(remade_gen, full_gen) of the common table (None, None: not written since generations)."""
    if not table_exists(con, RECORDS_STATE):
        return None, None
    return tuple(con.execute(f"SELECT remade_gen, full_gen FROM {RECORDS_STATE}").fetchall()[0])


def hashed_records_query(sources: list[str], tables: dict[str, str] | None = None) -> str:
    """The common-schema rows of `sources`' staged tables (or of the queries `tables` gives for
    some of them) with the hash of their content (all but the delivery date)."""
    union = " UNION ALL ".join(person_records_sql(source, (tables or {}).get(source, f"staging.{source}"))
                               for source in sources)
    flagged = PASSPORT_ON_NO_PLACEMENT.format(records=f"({union})", placements="staging.p2mi_penempatan")
    content = ", ".join(f'"{c}"' for c in PERSON_RECORD_COLUMNS if c != "delivery_date")
    return f"SELECT *, hash({content}) AS {CONTENT_HASH} FROM ({flagged})"


def records_query(sources: list[str], keys, generation: int) -> str:
    """`hashed_records_query` with the capped blocking keys and the `generation` that writes them:
    the table written whole."""
    return (f"SELECT *, CAST({generation} AS BIGINT) AS {REMADE_GEN} "
            f"FROM ({with_capped_keys(keys, f'({hashed_records_query(sources)})')})")


def _synced(con) -> dict[str, dict]:
    """Per source, what `staging.person_records` took of it last (SYNCED_TABLE's row: its
    `staged_run_id` and, when kept, `staged_gen`); empty when not known."""
    if not table_exists(con, SYNCED_TABLE):
        return {}
    return {row["source"]: row for row in con.sql(f"SELECT * FROM {SYNCED_TABLE}").pl().iter_rows(named=True)}


def _stale_sources(synced: dict[str, dict], staged: dict[str, str | None]) -> list[str]:
    """The sources whose records in `staging.person_records` may not be tonight's: their staged
    rows (or those of a source they read) were written since the table took them (`synced`), or
    it is not known when. On a night only P2MI delivers, DTSEN's million records are not read
    again."""
    moved = {s for s, run in staged.items() if run is None or synced.get(s, {}).get(STAGED_RUN_ID) != run}
    return [s for s in CONTRACTS if s in moved or moved.intersection(READS_OTHER_SOURCES.get(s, ()))]


def _restaged_since(con, stale: list[str], synced: dict[str, dict],
                    generations: dict[str, tuple[int | None, int | None]]) -> dict[str, int]:
    """Per stale source whose records can be brought up to date from its rows staged since the
    table last took it (`synced`): the staging generation it took then. A source is read whole
    instead when that generation is not known or older than the source's last full staging, when
    its rows have more than one delivery date, or when it is stale because a source it reads was
    staged again (a case's passport flag reads every placement)."""
    took_gen = {source: row.get("staged_gen") for source, row in synced.items()}
    moved = {s for s in stale if took_gen.get(s) is None or took_gen[s] != generations[s][0]}
    since = {}
    for source in stale:
        took, (_, full_gen) = took_gen.get(source), generations[source]
        if (took is None or full_gen is None or took < full_gen
                or moved.intersection(READS_OTHER_SOURCES.get(source, ()))):
            continue
        if con.execute(f"SELECT count(DISTINCT delivery_date) FROM staging.{source}").fetchall()[0][0] > 1:
            continue
        since[source] = took
    return since


def _restaged_rows(source: str, took: int) -> str:
    """A query of the staged rows of `source` whose common-schema rows may differ from those
    stored: those staged since generation `took`, and for DTSEN every row of the families in
    `__families` (note_restaged: a record's household key reads its family's rows, _FAMILY_CARDS)."""
    restaged = staged_since(source, took)
    if source != "dtsen_individu":
        return f"({restaged})"
    return f"({restaged} OR family_id IN (SELECT family_id FROM __families))"


def note_restaged(con, since: dict[str, int]) -> None:
    """Temporary tables of what the sources in `since` changed, taken before the table changes:
    `__absent`, the stored records no longer staged (by row id), and `__families`, the DTSEN
    families of the rows staged since and, as last night's rows say, of the records gone or
    staged again (a record that moved leaves its old family's card to the others)."""
    con.execute("CREATE OR REPLACE TEMP TABLE __absent (row_id BIGINT)")
    con.execute("CREATE OR REPLACE TEMP TABLE __families (family_id VARCHAR)")
    for source, took in since.items():
        con.execute(f"INSERT INTO __absent SELECT p.rowid FROM staging.person_records p "
                    f"ANTI JOIN staging.{source} s USING (source_record_id) WHERE p.source = '{source}'")
        if source == "dtsen_individu":
            restaged = staged_since(source, took)
            con.execute(
                f"INSERT INTO __families SELECT family_id FROM ({restaged}) UNION SELECT p.family_id "
                f"FROM staging.person_records p WHERE p.source = '{source}' AND (p.rowid IN "
                f"(SELECT row_id FROM __absent) OR p.source_record_id IN (SELECT source_record_id FROM ({restaged})))")


def update_person_records(con, hashed: str, keys, sources: list[str], since: dict[str, int] | None = None,
                          generation: int | None = None) -> dict[str, int]:
    """Brings the records of `sources` in `staging.person_records` to tonight's rows where they
    stand, inside the caller's transaction: `hashed` gives tonight's rows of those sources (without
    capped keys) with the hash of their content; of a source in `since`, only those that may
    differ (`_restaged_rows`: at 1M, remaking every DTSEN record took 0.75 s of a night every
    source delivered), and `__absent` names its stored records no longer staged
    (note_restaged). A stored row of theirs whose record and content hash are not tonight's
    is deleted (of a source in `since`: among the records remade and those absent); tonight's rows
    not stored are inserted; every row takes tonight's delivery date; then the capped keys are
    counted again in the blocks that gained or lost a record (block_keys.recount_capped_keys) and
    set where they moved, whatever the source. Written whole, the million-row table took 3.3 s of
    a night; counting every block again took 1.3 s of the 1.5 s this took before. Returns the rows
    inserted and deleted, the blocking keys that moved (a row's keys counted one by one) and the
    records compared. The rows inserted and those whose keys moved carry `generation`
    (REMADE_GEN), when given."""
    since = since or {}
    con.execute(f"CREATE OR REPLACE TEMP TABLE __tonight AS SELECT record_key, {CONTENT_HASH}, delivery_date "
                f"FROM ({hashed})")
    whole = [source for source in sources if source not in since]
    scope = " OR ".join(
        ([f"p.source IN ({', '.join(map(repr, whole))})"] if whole else [])
        + ([f"(p.source IN ({', '.join(map(repr, since))}) AND (p.rowid IN (SELECT row_id FROM __absent) "
            "OR p.record_key IN (SELECT record_key FROM __tonight)))"] if since else []))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __gone AS SELECT p.rowid AS row_id FROM staging.person_records p "
        f"ANTI JOIN __tonight t ON t.record_key = p.record_key AND t.{CONTENT_HASH} = p.{CONTENT_HASH} "
        f"WHERE {scope}"
    )
    # The blocks of the rows leaving, taken before they leave.
    touched = touched_blocks(keys, "staging.person_records", "rowid IN (SELECT row_id FROM __gone)")
    if touched:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __touched AS {touched}")
    deleted = con.execute(
        "DELETE FROM staging.person_records WHERE rowid IN (SELECT row_id FROM __gone)").fetchone()[0]
    con.execute("CREATE OR REPLACE TEMP TABLE __new AS SELECT record_key FROM __tonight t "
                "ANTI JOIN staging.person_records p USING (record_key)")
    added = [f"NULL::BIGINT AS {k.name}" for k in keys] + (
        [f"CAST({generation} AS BIGINT) AS {REMADE_GEN}"] if generation is not None else [])
    inserted = con.execute(
        f"INSERT INTO staging.person_records BY NAME SELECT h.*{''.join(', ' + a for a in added)} FROM ({hashed}) h "
        "SEMI JOIN __new USING (record_key)"
    ).fetchone()[0]
    con.execute("UPDATE staging.person_records p SET delivery_date = t.delivery_date FROM __tonight t "
                "WHERE t.record_key = p.record_key AND p.delivery_date IS DISTINCT FROM t.delivery_date")
    for source in since:  # the records not remade: their source's one delivery date
        con.execute(f"UPDATE staging.person_records p SET delivery_date = d.delivery_date "
                    f"FROM (SELECT DISTINCT delivery_date FROM staging.{source}) d "
                    f"WHERE p.source = '{source}' AND p.delivery_date IS DISTINCT FROM d.delivery_date")
    moved = 0
    if touched:  # and the blocks of the rows arriving
        con.execute("INSERT INTO __touched " + touched_blocks(
            keys, "staging.person_records", "record_key IN (SELECT record_key FROM __new)"))
        # A row whose key moved is written tonight: linkage/pairs hashes only the rows written
        # since it last did.
        moved = recount_capped_keys(con, "staging.person_records", keys, "__touched",
                                    {REMADE_GEN: generation} if generation is not None else None)
        con.execute("DROP TABLE __touched")
    compared = con.execute("SELECT count(*) FROM __tonight").fetchall()[0][0]
    for table in ("__tonight", "__gone", "__new"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DROP TABLE IF EXISTS __absent")
    con.execute("DROP TABLE IF EXISTS __families")
    return {"inserted": inserted, "deleted": deleted, "keys_moved": moved, "compared": compared}
