"""Bare Splink, nothing around it: what the pipeline's linkage does on a full rebuild, on the same
standardised records, for the benchmark's ratio. `python -m benchmarks.bare_splink WAREHOUSE.duckdb`
reads `staging.person_records` (read-only, after the nightly run has finished), then trains with the
pipeline's rules and training settings, predicts at the same threshold and clusters with Splink's
connected components at the cluster threshold. Prints one JSON line of timings and counts; the
caller measures the process's peak memory."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import polars as pl
from splink import DuckDBAPI, Linker

from assets.linkage.incremental import term_frequency_columns, term_frequency_tables, tf_lookup
from assets.linkage.model import LINKAGE_COLUMNS, train
from assets.linkage.rules import load_rules


def read_records(warehouse_path: str) -> pl.DataFrame:
    con = duckdb.connect(warehouse_path, read_only=True)
    try:
        columns = ", ".join(LINKAGE_COLUMNS)
        return con.sql(f"SELECT {columns} FROM staging.person_records").pl()
    finally:
        con.close()


def run(records: pl.DataFrame) -> dict:
    rules = load_rules()
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # process CPU seconds (every thread: DuckDB's too)

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        started, cpu_started = time.monotonic(), time.process_time()
        yield
        timings[name], cpu[name] = time.monotonic() - started, time.process_time() - cpu_started

    with phase("train"):
        model_json, _ = train(records, rules)  # the pipeline's own training: same rules, seed, EM sessions

    with phase("predict"):
        con = duckdb.connect()
        db_api = DuckDBAPI(connection=con)
        linker = Linker(db_api.register(records, dataset_display_name="person_records"), model_json)
        # The term frequencies the pipeline scores with (deduplicated DTSEN), so both score the same pairs.
        for column, tf_table in term_frequency_tables(records, term_frequency_columns(model_json)).items():
            lookup = db_api.register(tf_lookup(tf_table, column, records[column]), dataset_display_name=f"tf_{column}")
            linker.table_management.register_term_frequency_lookup(lookup, column)
        predictions = linker.inference.predict(threshold_match_probability=rules.predict_threshold)
        pairs = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0]

    with phase("cluster"):
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=rules.cluster_threshold
        )
        n_clusters = con.execute(
            f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}"
        ).fetchall()[0][0]
    return {"seconds": timings, "cpu_seconds": cpu, "records": records.height, "pairs_at_threshold": pairs,
            "clusters": n_clusters}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("warehouse", help="the run's $PADU_DATA_DIR/warehouse/padu_work.duckdb")
    args = parser.parse_args(argv)
    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.monotonic()
    records = read_records(args.warehouse)
    read_seconds = time.monotonic() - started
    result = run(records)
    result["seconds"]["read_records"] = read_seconds
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
