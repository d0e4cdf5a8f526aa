"""Published layer: the analysts' tables, all swapped in together at the end of a good run."""

import dagster as dg
import polars as pl

from assets.linkage.rules import load_rules
from assets.sources.assets import ledger_table
from assets.sources.contracts import CONTRACTS
from assets.persons.delta import PERSONS_STATE, TONIGHT_ROWS, TOUCHED_TABLE
from assets.publish.store import (
    DATABASE_FILE, PUBLISHED, RowChanges, publish_changes, publish_tables, published_run, read_published,
)
from assets.warehouse import PaduSettings, Warehouse

PUBLISHED_TABLES = {
    "persons": "One row per person: tokens, sex, birth year, origin regency, sources and status.",
    "person_records": "One row per accepted source record: which person it belongs to, and how surely.",
    "person_id_events": "Every created, merged, split, moved and retired person id, run by run, with its records and evidence.",
    "household_links": "Persons sharing a household (family-card token), by source.",
    "parent_links": "Sekolah Rakyat students linked to the parent or guardian their record names.",
    "quarantine": "Rows set aside at ingest: source, file, row number and reason (no values).",
    "deliveries": "The files read tonight, with rows read, accepted and quarantined.",
    "run_info": "The run that published these tables: run id, rules version, counts.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["published", name], description=text, group_name="published", kinds={"duckdb", "parquet"},
            deps=[dg.AssetKey(["persons", "persons"]), dg.AssetKey(["raw", "quarantine"])],
        )
        for name, text in PUBLISHED_TABLES.items()
    ],
)
def published_tables(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
    ledger_union = " UNION ALL ".join(
        f"SELECT * FROM {ledger_table(source)}" for source in CONTRACTS
    )
    # The small tables, whole every night.
    small = {
        "parent_links": warehouse.read("persons.parent_links"),
        "quarantine": warehouse.read("raw.quarantine").drop("record"),
        "deliveries": warehouse.query(f"SELECT * FROM ({ledger_union}) ORDER BY source, file"),
    }
    linkage = warehouse.read("linkage.state").row(0, named=True)
    counts = warehouse.query("SELECT (SELECT count(*) FROM persons.persons) AS persons, "
                             "(SELECT count(*) FROM persons.person_records) AS records").row(0, named=True)
    small["run_info"] = pl.DataFrame({
        "run_id": [context.run.run_id],
        "rules_version": [load_rules().version_hash],
        "model_id": [linkage["model_id"]],
        "linkage_mode": [linkage["mode"]],
        "records_new": [linkage["records_new"]],
        "records_changed": [linkage["records_changed"]],
        "records_deleted": [linkage["records_deleted"]],
        "persons": [counts["persons"]],
        "records": [counts["records"]],
    })
    reason = _whole_reason(context, padu, warehouse)
    if reason is None:
        manifest = _publish_changes(context, padu, warehouse, small)
    else:
        manifest = publish_tables(_whole_tables(context, padu, warehouse) | small, padu.published_path,
                                  context.run.run_id)
    for name in PUBLISHED_TABLES:
        yield dg.MaterializeResult(
            asset_key=["published", name],
            metadata={
                "dagster/row_count": manifest["tables"][name],
                "database": dg.MetadataValue.path(str(padu.published_path / DATABASE_FILE)),
                "parquet": dg.MetadataValue.path(str(padu.published_path / f"{name}.parquet")),
                "published": "the touched persons' rows changed in a copy of the last version" if reason is None
                else f"written whole ({reason})",
            },
        )


# The tables keyed by person whose rows change only for the persons touched tonight (persons/delta.py).
PER_PERSON = {"persons": "persons.persons", "person_records": "persons.person_records",
              "household_links": "persons.household_links"}


def _whole_reason(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse) -> str | None:
    """Why tonight's version is written whole, or None when it can be the current version with the
    rows of tonight's touched persons changed: the persons step kept the other persons' rows from
    the run that published the current version."""
    if not (padu.published_path / DATABASE_FILE).exists():
        return "no published version"
    state = warehouse.read(PERSONS_STATE).row(0, named=True)
    if state.get("run_id") != context.run.run_id or state.get("mode") != "touched":
        return "the persons were computed whole"
    if state.get("built_on_run_id") != published_run(padu.published_path):
        return "the persons kept are not those of the current version"
    return None


def _whole_tables(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse) -> dict:
    previous_events = read_published(padu.published_path, "person_id_events")
    events = warehouse.read("persons.person_id_events")
    if previous_events is not None:
        # The events table is the whole history: a re-run of the same run does not repeat it.
        events = pl.concat(
            [previous_events.filter(pl.col("run_id") != context.run.run_id), events], how="diagonal_relaxed"
        ).select(events.columns)
    return {
        # Updated in place on most nights (persons/delta.py): published in a fixed order.
        "persons": warehouse.query("SELECT * FROM persons.persons ORDER BY person_id"),
        "person_records": warehouse.read("persons.person_records"),
        "person_id_events": events,
        "household_links": warehouse.query(
            "SELECT * FROM persons.household_links ORDER BY household_token, person_id, source"),
    }


def _publish_changes(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse,
                     small: dict[str, pl.DataFrame]) -> dict:
    touched = f"SELECT person_id FROM {TOUCHED_TABLE}"
    tonight = f"SELECT '{context.run.run_id}'"

    def update(con) -> None:
        for name, frame in small.items():
            con.register("__table", frame.to_arrow())
            con.execute(f'CREATE OR REPLACE TABLE {PUBLISHED}."{name}" AS SELECT * FROM __table')
            con.unregister("__table")

    # The large tables change by tonight's rows only: their Parquet files are patched, not read out.
    # The touched persons include those gone tonight (persons/delta.save_state); the events table
    # is the whole history, and a re-run of the same run does not repeat it.
    row_changes = {name: RowChanges("person_id", touched, f"SELECT * FROM {TONIGHT_ROWS[source]}")
                   for name, source in PER_PERSON.items()} | {
        "person_id_events": RowChanges("run_id", tonight, "SELECT * FROM persons.person_id_events")}
    with warehouse.connect() as con:
        return publish_changes(con, padu.published_path, context.run.run_id, update, list(PUBLISHED_TABLES),
                               row_changes)
