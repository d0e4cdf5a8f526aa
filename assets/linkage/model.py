"""Trains the Splink model on the common person records, scores candidate pairs and clusters them,
on a DuckDB connection of its own so that the warehouse file is never locked by Splink."""

from __future__ import annotations


import duckdb
import polars as pl
from splink import DuckDBAPI, Linker
from splink.clustering import cluster_pairwise_predictions_at_threshold

from assets.linkage.rules import LinkageRules

# Only these columns go into Splink: what the rules compare and block on.
LINKAGE_COLUMNS = [
    "record_key", "source", "nik", "nik_matches_birth_date", "name_key", "name_key_nospace", "name_key_sorted",
    "name_first_key", "name_last_key", "sex", "birth_date", "birth_year", "birth_date_is_default",
    "kk", "passport", "district_code", "regency_code", "birth_regency_code", "lone_name_key",
]


def _new_linker(records: pl.DataFrame, settings: dict) -> tuple[Linker, DuckDBAPI]:
    con = duckdb.connect()  # in memory: Splink's __splink__ tables stay out of the warehouse
    db_api = DuckDBAPI(connection=con)
    table = db_api.register(records.select(LINKAGE_COLUMNS), dataset_display_name="person_records")
    return Linker(table, settings), db_api


def train(records: pl.DataFrame, rules: LinkageRules) -> tuple[dict, list[str]]:
    """Trains m and u probabilities with a fixed seed; returns the model as Splink JSON."""
    linker, _ = _new_linker(records, rules.splink_settings())
    training = rules.training
    notes: list[str] = []
    prior = training["probability_two_random_records_match"]
    linker.training.estimate_probability_two_random_records_match(
        prior["deterministic_rules"], recall=float(prior["recall"])
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=float(training["u_max_pairs"]), seed=int(training["seed"])
    )
    for rule in training["em_blocking_rules"]:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=float(training["em_max_pairs"])
            )
        except Exception as exc:  # too few pairs in a tiny delivery: keep the u-only estimate
            notes.append(f"EM session on '{rule}' skipped: {exc}")
    return linker.misc.save_model_to_json(), notes


def cluster_edges(pairs: pl.DataFrame, must_links: pl.DataFrame) -> pl.DataFrame:
    """The scored pairs plus the must-links (links the sources state themselves, reviewers'
    matches) at probability 1.0, so that they join whatever the model says."""
    return pl.concat(
        [
            pairs.select("record_key_l", "record_key_r", "match_probability"),
            must_links.select("record_key_l", "record_key_r", pl.lit(1.0).alias("match_probability")),
        ],
        how="vertical_relaxed",
    )


def cluster(records: pl.DataFrame, edges: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Connected components (Splink's clustering) of `edges` (see cluster_edges) at `threshold`.
    Returns record_key, cluster_id."""
    db_api = DuckDBAPI(connection=duckdb.connect())
    clustered = cluster_pairwise_predictions_at_threshold(
        records.select("record_key").to_arrow(), edges.to_arrow(), db_api,
        node_id_column_name="record_key", edge_id_column_name_left="record_key_l",
        edge_id_column_name_right="record_key_r", threshold_match_probability=threshold,
    )
    return pl.from_arrow(clustered.as_pyarrow_table()).select("record_key", "cluster_id")
