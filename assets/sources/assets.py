"""Raw layer: one asset per source that ingests its newest usable delivery into `raw.<source>`,
with the quarantined rows and the per-file ledger beside it, and the checks that prove nothing
was lost."""

from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import dagster as dg
import polars as pl

from assets.fingerprint import code_fingerprint
from assets.metadata import markdown_table, value_counts
from assets.sources.contracts import CONTRACTS, SourceContract
from assets.sources.ingest import PROVENANCE, ROW_HASH, ingest_source, ingest_state_table
from assets.sources.retention import apply_retention, plan_retention
from assets.warehouse import PaduSettings, Warehouse, full_rebuild_requested, replace_table, sync_rows

RAW_GROUP = "raw"
WIB = timezone(timedelta(hours=7), "WIB")  # delivery dates are Jakarta dates; Jakarta has no DST


def quarantine_table(source: str) -> str:
    return f"raw.{source}__quarantine"


def ledger_table(source: str) -> str:
    return f"raw.{source}__files"


@cache
def ingest_fingerprint() -> str:
    """What the raw tables depend on besides the delivery's bytes: the reading code and libraries."""
    return code_fingerprint(sorted(Path(__file__).parent.glob("*.py")), ("polars", "fastexcel", "numpy"))


def stored_delivery(warehouse: Warehouse, source: str) -> tuple[str | None, str | None]:
    """The digest and stamp of the delivery in the raw tables, if they were read by tonight's code
    (a state from before stamps were kept has none)."""
    tables = (f"raw.{source}", quarantine_table(source), ledger_table(source), ingest_state_table(source))
    if not all(warehouse.exists(t) for t in tables):
        return None, None
    state = warehouse.read(ingest_state_table(source)).row(0, named=True)
    if state["fingerprint"] != ingest_fingerprint():
        return None, None
    return state["digest"], state.get("stamp")


def build_raw_asset(contract: SourceContract) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", contract.name])

    @dg.asset(
        key=key,
        group_name=RAW_GROUP,
        description=f"{contract.description} Newest complete, readable delivery; text as delivered.",
        kinds={"duckdb", "polars"},
        check_specs=[
            dg.AssetCheckSpec("rows_reconcile", asset=key,
                              description="Accepted + quarantined rows = rows read, per file."),
            dg.AssetCheckSpec("quarantine_share_within_limit", asset=key, blocking=True,
                              description="The run stops before linkage when too many rows are quarantined."),
            dg.AssetCheckSpec("newest_delivery_used", asset=key,
                              description="The newest complete delivery was readable and used."),
        ],
    )
    def raw_source(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
        # A delivery already in the raw tables, byte for byte and read by the same code, is not
        # read again (DTSEN and Sekolah Rakyat deliver far less often than nightly).
        kept_digest, kept_stamp = (None, None) if full_rebuild_requested(context) else stored_delivery(
            warehouse, contract.name)
        result = ingest_source(padu.landing_path, contract, stored_digest=kept_digest, stored_stamp=kept_stamp)
        for note in result.notes:
            context.log.warning(note)
        for label, reason in result.rejected:
            context.log.error(f"rejected delivery {label}: {reason}")
        if result.unchanged:
            context.log.info(f"{result.delivery.label} is the delivery already ingested: its raw tables are kept")
            # Only what the metadata and checks count: the quarantined rows' values stay in the store.
            result.quarantined = warehouse.read(quarantine_table(contract.name), ["rule"])
            result.ledger = warehouse.read(ledger_table(contract.name))
            accepted_rows = int(warehouse.query(f"SELECT count(*) AS n FROM raw.{contract.name}")["n"][0])
            raw_write = "kept"
        else:
            tables = {
                quarantine_table(contract.name): result.quarantined,
                ledger_table(contract.name): result.ledger,
                ingest_state_table(contract.name): pl.DataFrame({
                    "delivery": [result.delivery.label if result.delivery else None], "digest": [result.digest],
                    "stamp": [result.stamp], "fingerprint": [ingest_fingerprint()], "run_id": [context.run.run_id],
                }, schema={"delivery": pl.String, "digest": pl.String, "stamp": pl.String, "fingerprint": pl.String,
                           "run_id": pl.String}),
            }
            with warehouse.transaction() as con:
                # A delivery is a full snapshot, mostly last night's rows: the raw table is updated
                # where it stands (a row of the same content takes tonight's file, row number and
                # date), unless the run rebuilds everything, the reading code changed (then
                # kept_digest is None) or the columns did.
                synced = kept_digest is not None and sync_rows(
                    con, f"raw.{contract.name}", result.accepted, list(ROW_HASH), list(PROVENANCE))
                if not synced:
                    replace_table(con, f"raw.{contract.name}", result.accepted)
                raw_write = "updated where it stands" if synced else "written whole"
                for name, frame in tables.items():
                    replace_table(con, name, frame)
            accepted_rows = result.accepted.height
        # The check re-counts from the stored tables, so a row lost on the way to the store fails it.
        stored = warehouse.query(
            f"""
            SELECT l.file, l.rows_read,
                   coalesce(a.n, 0) AS accepted, coalesce(q.n, 0) AS quarantined
            FROM {ledger_table(contract.name)} l
            LEFT JOIN (SELECT _file AS file, count(*) n FROM raw.{contract.name} GROUP BY 1) a USING (file)
            LEFT JOIN (SELECT file, count(*) n FROM {quarantine_table(contract.name)} GROUP BY 1) q USING (file)
            ORDER BY l.file
            """
        )
        mismatched = stored.filter(pl.col("rows_read") != pl.col("accepted") + pl.col("quarantined"))
        share = result.quarantine_share
        reasons = value_counts(result.quarantined, "rule")
        delivery = result.delivery.delivery_date.isoformat() if result.delivery else "none"
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": accepted_rows,
                "delivery_date": delivery,
                "ingest": "the delivery already ingested: kept" if result.unchanged else "read tonight",
                "raw_table": raw_write,
                "rows_read": result.rows_read,
                "quarantined": result.quarantined.height,
                "quarantine_share": round(share, 4),
                "files": markdown_table(result.ledger.drop("source")),
                "quarantine_rules": markdown_table(reasons),
                "notes": "\n".join(result.notes) or "none",
                "rejected_deliveries": "\n".join(f"{l}: {r}" for l, r in result.rejected) or "none",
            }
        )
        yield dg.AssetCheckResult(
            check_name="rows_reconcile",
            passed=mismatched.height == 0,
            metadata={"files_checked": stored.height, "files_mismatched": mismatched.height,
                      "rows_read": int(stored["rows_read"].sum() or 0)},
        )
        yield dg.AssetCheckResult(
            check_name="quarantine_share_within_limit",
            passed=share <= padu.max_quarantine_share,
            description=(
                f"{result.quarantined.height} of {result.rows_read} rows of {delivery} quarantined "
                f"({share:.1%}); the limit is {padu.max_quarantine_share:.0%}"
            ),
            metadata={"quarantine_share": round(share, 4), "limit": padu.max_quarantine_share},
        )
        newest_rejected = bool(result.rejected) and (
            result.delivery is None or result.rejected[0][0] > result.delivery.label
        )
        yield dg.AssetCheckResult(
            check_name="newest_delivery_used",
            passed=not newest_rejected,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                "; ".join(f"rejected {l}: {r}" for l, r in result.rejected)
                + (f"; using {result.delivery.label} instead" if result.delivery else "; source is empty")
            ) if result.rejected else f"using {delivery}",
        )

    return raw_source


raw_source_assets = [build_raw_asset(c) for c in CONTRACTS.values()]


@dg.asset(
    key=["raw", "quarantine"],
    group_name=RAW_GROUP,
    deps=[a.key for a in raw_source_assets],
    description="Every quarantined row of the four sources with file, row number and reason.",
    kinds={"duckdb"},
)
def raw_quarantine(warehouse: Warehouse) -> dg.MaterializeResult:
    union = " UNION ALL ".join(f"SELECT * FROM {quarantine_table(s)}" for s in CONTRACTS)
    frame = warehouse.query(f"SELECT * FROM ({union}) ORDER BY source, file, row_number")
    warehouse.write({"raw.quarantine": frame})
    summary = frame.group_by("source", "rule").len("rows").sort("source", "rows", descending=[False, True])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "by_source_and_rule": markdown_table(summary),
        }
    )


@dg.asset(
    key=["housekeeping", "landing_retention"],
    group_name="housekeeping",
    # It reads the raw ledgers (which delivery is in use), and runs only after a good publish.
    deps=[*(a.key for a in raw_source_assets), dg.AssetKey(["published", "deliveries"])],
    description="After a good publish, deletes delivery folders older than PADU_RETENTION_DAYS "
    "(by delivery date) from the landing folder, never the delivery in use or a newer one. Keeps "
    "everything when PADU_RETENTION_DAYS is not set.",
    kinds={"python"},
)
def landing_retention(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
    if padu.retention_days is None:
        context.log.info("PADU_RETENTION_DAYS is not set: every delivery is kept")
        return dg.MaterializeResult(metadata={"retention_days": "not set", "removed": 0})
    # The deliveries in use are those whose rows were read tonight (the ledger of each source).
    in_use = {}
    for source in CONTRACTS:
        dates = warehouse.read(ledger_table(source), ["delivery_date"])["delivery_date"]
        in_use[source] = dates.max() if dates.len() else None
    plan = plan_retention(padu.landing_path, padu.retention_days, datetime.now(WIB).date(), in_use)
    for note in plan.notes:
        context.log.warning(note)
    removed, errors = apply_retention(plan)
    for label in removed:
        context.log.info(f"removed delivery {label}: older than {padu.retention_days} days")
    if errors:
        raise RuntimeError("could not remove expired deliveries: " + "; ".join(errors))
    return dg.MaterializeResult(
        metadata={
            "retention_days": padu.retention_days,
            "cutoff": plan.cutoff.isoformat(),
            "removed": len(removed),
            "removed_deliveries": "\n".join(removed) or "none",
            "notes": "\n".join(plan.notes) or "none",
        }
    )
