"""Trains the Splink model on the common person records and clusters the scored pairs, on the
configured backend (assets/linkage/backend.py): a DuckDB connection of its own, so that the
warehouse file is never locked by Splink, or Spark."""

from __future__ import annotations

import polars as pl
from splink.clustering import cluster_pairwise_predictions_at_threshold

from assets.linkage.backend import (
    DUCKDB, LinkageBackend, make_db_api, make_linker, model_in_rules_dialect, register_frame,
    rule_for_backend, settings_for_backend,
)
from assets.linkage.rules import LinkageRules, load_rules

# Only these columns go into Splink: what the rules compare and block on.
LINKAGE_COLUMNS = [
    "record_key", "source", "nik", "nik_matches_birth_date", "name_key", "name_key_nospace", "name_key_sorted",
    "name_first_key", "name_last_key", "sex", "birth_date", "birth_year", "birth_date_is_default",
    "kk", "passport", "phone", "district_code", "regency_code", "birth_regency_code", "lone_name_key",
] + [key.name for key in load_rules().capped_block_keys]


def train(records: pl.DataFrame, rules: LinkageRules, backend: LinkageBackend = DUCKDB) -> tuple[dict, list[str]]:
    """Trains m and u probabilities with a fixed seed; returns the model as Splink JSON, its SQL in
    the rules' dialect whichever backend trained it."""
    settings = rules.splink_settings()
    dialect = rules.sql_dialect
    training = rules.training
    notes: list[str] = []
    with make_db_api(backend) as db_api:
        table = register_frame(db_api, records.select(LINKAGE_COLUMNS), "person_records")
        linker = make_linker(table, settings_for_backend(settings, backend, dialect))
        prior = training["probability_two_random_records_match"]
        linker.training.estimate_probability_two_random_records_match(
            [rule_for_backend(r, backend, dialect) for r in prior["deterministic_rules"]],
            recall=float(prior["recall"]),
        )
        linker.training.estimate_u_using_random_sampling(
            max_pairs=float(training["u_max_pairs"]), seed=int(training["seed"])
        )
        for rule in training["em_blocking_rules"]:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule_for_backend(rule, backend, dialect), max_pairs=float(training["em_max_pairs"])
                )
            except Exception as exc:  # too few pairs in a tiny delivery: keep the u-only estimate
                notes.append(f"EM session on '{rule}' skipped: {exc}")
        model_json = linker.misc.save_model_to_json()
    if backend.name != dialect:
        model_json = model_in_rules_dialect(model_json, settings, dialect)
    return model_json, notes


# Below this, EM has set a level's m to zero: the sessions' likely matches held none of it. A zero
# m is a cannot-link the rules never asked for (docs/linkage.md, "EM at scale").
COLLAPSED_M = 1e-6


def collapsed_levels(model_json: dict) -> list[str]:
    """'comparison: level (m)' for every level whose m training put below COLLAPSED_M. Levels the
    rules fix (`fix_m_probability`, kept in the saved model) are theirs, not training's."""
    found = []
    for comparison in model_json["comparisons"]:
        for level in comparison["comparison_levels"]:
            m = level.get("m_probability")
            if level.get("is_null_level") or level.get("fix_m_probability") or m is None:
                continue
            if m < COLLAPSED_M:
                found.append(f"{comparison['output_column_name']}: {level.get('label_for_charts')} (m {m:.1e})")
    return found


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


def cluster(records: pl.DataFrame, edges: pl.DataFrame, threshold: float,
            backend: LinkageBackend = DUCKDB) -> pl.DataFrame:
    """Connected components (Splink's clustering) of `edges` (see cluster_edges) at `threshold`.
    Returns record_key, cluster_id."""
    with make_db_api(backend) as db_api:
        nodes = register_frame(db_api, records.select("record_key"), "cluster_nodes")
        links = register_frame(db_api, edges, "cluster_edges")
        clustered = cluster_pairwise_predictions_at_threshold(
            nodes, links, db_api,
            node_id_column_name="record_key", edge_id_column_name_left="record_key_l",
            edge_id_column_name_right="record_key_r", threshold_match_probability=threshold,
        )
        return pl.from_arrow(clustered.as_pyarrow_table()).select("record_key", "cluster_id")
