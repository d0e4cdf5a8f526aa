"""Published layer: the analysts' tables, all swapped in together at the end of a good run."""

import dagster as dg
import polars as pl

from assets.linkage.rules import load_rules
from assets.sources.assets import ledger_table
from assets.sources.contracts import CONTRACTS
from assets.publish.store import DATABASE_FILE, publish_tables, read_published
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
    previous_events = read_published(padu.published_path, "person_id_events")
    events = warehouse.read("persons.person_id_events")
    if previous_events is not None:
        # The events table is the whole history: a re-run of the same run does not repeat it.
        events = pl.concat(
            [previous_events.filter(pl.col("run_id") != context.run.run_id), events], how="diagonal_relaxed"
        ).select(events.columns)
    ledger_union = " UNION ALL ".join(
        f"SELECT * FROM {ledger_table(source)}" for source in CONTRACTS
    )
    tables = {
        # Updated in place on most nights (persons/delta.py): published in a fixed order.
        "persons": warehouse.query("SELECT * FROM persons.persons ORDER BY person_id"),
        "person_records": warehouse.read("persons.person_records"),
        "person_id_events": events,
        "household_links": warehouse.query(
            "SELECT * FROM persons.household_links ORDER BY household_token, person_id, source"),
        "parent_links": warehouse.read("persons.parent_links"),
        "quarantine": warehouse.read("raw.quarantine").drop("record"),
        "deliveries": warehouse.query(f"SELECT * FROM ({ledger_union}) ORDER BY source, file"),
    }
    linkage = warehouse.read("linkage.state").row(0, named=True)
    tables["run_info"] = pl.DataFrame({
        "run_id": [context.run.run_id],
        "rules_version": [load_rules().version_hash],
        "model_id": [linkage["model_id"]],
        "linkage_mode": [linkage["mode"]],
        "records_new": [linkage["records_new"]],
        "records_changed": [linkage["records_changed"]],
        "records_deleted": [linkage["records_deleted"]],
        "persons": [tables["persons"].height],
        "records": [tables["person_records"].height],
    })
    manifest = publish_tables(tables, padu.published_path, context.run.run_id)
    for name in PUBLISHED_TABLES:
        yield dg.MaterializeResult(
            asset_key=["published", name],
            metadata={
                "dagster/row_count": manifest["tables"][name],
                "database": dg.MetadataValue.path(str(padu.published_path / DATABASE_FILE)),
                "parquet": dg.MetadataValue.path(str(padu.published_path / f"{name}.parquet")),
            },
        )
