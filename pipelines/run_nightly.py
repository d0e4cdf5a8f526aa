"""`make run`: runs the nightly job through Dagster (recorded in the persistent Dagster home, so
it shows in the UI) and prints a short summary of what was read, quarantined and published."""

from __future__ import annotations

import argparse
import logging
import sys
import time

import polars as pl

from pipelines.instance import dagster_home


def _summary(settings, warehouse, run_id: str) -> str:
    from assets.sources.ingest import ingest_state_table
    from assets.warehouse import table_exists

    lines = ["", "Padu nightly run"]
    deliveries = pl.read_parquet(settings.published_path / "deliveries.parquet")
    per_source = deliveries.group_by("source").agg(
        pl.col("delivery_date").max().alias("delivery"),
        pl.col("rows_read").sum().alias("read"),
        pl.col("accepted").sum(),
        pl.col("quarantined").sum(),
    ).sort("source")
    lines.append("  records read per source:")
    with warehouse.connect() as con:  # one connection: outside a run each one opens the file
        for row in per_source.iter_rows(named=True):
            # A delivery already ingested by an earlier run, byte for byte, is kept, not read again.
            state = ingest_state_table(row["source"])
            kept = table_exists(con, state) and con.sql(f"SELECT run_id FROM {state}").fetchall()[0][0] != run_id
            lines.append(
                f"    {row['source']:<16} delivery {row['delivery']}  read {row['read']:>9,}  "
                f"accepted {row['accepted']:>9,}  quarantined {row['quarantined']:>6,}"
                + ("  (already ingested: kept)" if kept else "")
            )
        report = con.sql("SELECT * FROM quality.report").pl()
        # The mode the pairs were made in, and why (a store whose record hashes are of an older kind
        # links in full although the model step found nothing changed).
        linkage = con.sql("SELECT s.mode, CASE WHEN s.mode = m.mode THEN m.mode_reason "
                          "ELSE 'the stored record hashes are of another kind' END AS reason, "
                          "s.records_new, s.records_changed, s.records_deleted "
                          "FROM linkage.state s, linkage.model m").pl()
    if linkage.height:
        row = linkage.row(0, named=True)
        lines.append(f"  linkage: {row['mode']} ({row['reason']}); records new {row['records_new']:,}, "
                     f"changed {row['records_changed']:,}, deleted {row['records_deleted']:,}")
    persons, records = (pl.scan_parquet(settings.published_path / f"{name}.parquet").select(pl.len()).collect().item()
                        for name in ("persons", "person_records"))
    lines.append(f"  persons published: {persons:,} from {records:,} records")
    if report.height and report["truth"][0]:
        q = report.row(0, named=True)
        lines.append(
            "  quality against the demo truth: pairwise precision {:.4f} recall {:.4f} F1 {:.4f}; "
            "B-cubed F1 {:.4f}".format(q["pairwise_precision"], q["pairwise_recall"], q["pairwise_f1"], q["bcubed_f1"])
        )
    else:
        lines.append("  quality: no ground truth in the landing folder")
    lines.append(f"  published: {settings.published_path}/padu.duckdb and {settings.published_path}/*.parquet")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full-rebuild", action="store_true",
                        help="link, cluster and compute every person again instead of what changed "
                             "(the run tag padu/full_rebuild, as the weekly schedule sets it)")
    parser.add_argument("--retrain", action="store_true",
                        help="train the model again (and so rebuild in full; the run tag padu/retrain)")
    args = parser.parse_args(argv)
    home = dagster_home()
    # Splink narrates training on the root logger; the run history keeps what matters.
    logging.getLogger("splink").setLevel(logging.ERROR)
    import dagster as dg  # after DAGSTER_HOME is set

    from assets.linkage.assets import RETRAIN_TAG
    from assets.warehouse import FULL_REBUILD_TAG
    from pipelines.definitions import defs
    from pipelines.instance import fail_orphaned_runs
    from pipelines.resources import build_resources

    tags = {tag: "true" for tag, asked in ((FULL_REBUILD_TAG, args.full_rebuild), (RETRAIN_TAG, args.retrain)) if asked}

    resources = build_resources()
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        for run_id in fail_orphaned_runs(instance):
            print(f"run {run_id} had been killed; marked as failed in the run history", file=sys.stderr)
        result = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags=tags,
            # The terminal gets warnings and errors; every event is in the UI's run history.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    seconds = time.monotonic() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        where = f"at {failed}" if failed else "before its first step"
        errors = [e.event_specific_data.error.message.strip() for e in result.all_events
                  if e.event_type_value == "RESOURCE_INIT_FAILURE" and e.event_specific_data.error]
        print(f"\nThe nightly run {result.run_id} failed {where}; see the Dagster UI (make ui)."
              + "".join(f"\n  {message}" for message in errors), file=sys.stderr)
        return 1
    print(_summary(resources["padu"], resources["warehouse"], result.run_id))
    print(f"  run {result.run_id} took {seconds:.0f} s; history in {home} (make ui)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
