"""Diagnostics of a linkage run, with no personal values: the model's weights as Splink charts,
how many pairs each blocking rule creates, and link rates per source pair and per province."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from splink import DuckDBAPI, Linker
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from assets.linkage.model import LINKAGE_COLUMNS
from assets.linkage.rules import LinkageRules


# Above this many records the report counts on a random sample and scales up: the exact count
# at 1M records took 83 s of a night, more than the prediction it describes is worth.
EXACT_COUNT_MAX_RECORDS = 200_000


def blocking_report(records: pl.DataFrame, rules: LinkageRules) -> pl.DataFrame:
    """Pair counts per blocking rule: new pairs each rule adds, and the running total; exact up
    to EXACT_COUNT_MAX_RECORDS records, estimated from a sample above (`is_estimate`)."""
    db_api = DuckDBAPI(connection=duckdb.connect())
    table = db_api.register(records.select(LINKAGE_COLUMNS), dataset_display_name="person_records")
    proportion = min(1.0, EXACT_COUNT_MAX_RECORDS / max(records.height, 1))
    counts = count_comparisons_from_blocking_rules(
        table, blocking_rules=rules.blocking_rules, link_type="dedupe_only",
        unique_id_column_name=rules.unique_id_column, record_sample_proportion=proportion,
    )
    return pl.DataFrame(
        {
            "rule": [c["blocking_rule"] for c in counts],
            "new_pairs": [int(c["marginal_comparison_count"]) for c in counts],
            "cumulative_pairs": [int(c["cumulative_comparison_count"]) for c in counts],
            "is_estimate": [bool(c["is_estimate"]) for c in counts],
        }
    )


def model_charts(model_json: dict, out_dir: Path) -> dict[str, Path]:
    """Splink's match-weights and m/u charts of the trained model, as standalone HTML files.
    They are built from the model alone (an empty frame of the right columns), so they can hold
    no record."""
    out_dir.mkdir(parents=True, exist_ok=True)
    empty = pl.DataFrame(schema={c: pl.String for c in LINKAGE_COLUMNS})
    db_api = DuckDBAPI(connection=duckdb.connect())
    linker = Linker(db_api.register(empty, dataset_display_name="no_records"), model_json)
    charts = {
        "match_weights": linker.visualisations.match_weights_chart(),
        "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
    }
    paths = {}
    for name, chart in charts.items():
        paths[name] = out_dir / f"{name}.html"
        chart.save(str(paths[name]))
    return paths


def link_rates(records: pl.DataFrame, clusters: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per source pair: persons found in both sources; per province: share of records linked to
    at least one other record). records: record_key, source, regency_code."""
    frame = records.select("record_key", "source", "regency_code").join(clusters, on="record_key")
    per_person = frame.group_by("cluster_id").agg(pl.col("source").unique().sort().alias("sources"))
    sources = sorted(frame["source"].unique().to_list())
    pair_rows = []
    for i, left in enumerate(sources):
        for right in sources[i:]:
            in_left = per_person.filter(pl.col("sources").list.contains(left)).height
            both = per_person.filter(
                pl.col("sources").list.contains(left) & pl.col("sources").list.contains(right)
            ).height if left != right else frame.filter(pl.col("source") == left).group_by("cluster_id").len().filter(
                pl.col("len") > 1).height
            pair_rows.append({"source_a": left, "source_b": right, "persons_in_a": in_left, "persons_in_both": both})
    by_pair = pl.DataFrame(pair_rows, schema={"source_a": pl.String, "source_b": pl.String,
                                               "persons_in_a": pl.Int64, "persons_in_both": pl.Int64})
    sizes = frame.with_columns(pl.len().over("cluster_id").alias("size"))
    by_province = (
        sizes.group_by(pl.col("regency_code").str.slice(0, 2).fill_null("(unknown)").alias("province"))
        .agg(pl.len().alias("records"), (pl.col("size") > 1).mean().round(4).alias("share_linked"))
        .sort("province")
    )
    return by_pair, by_province
