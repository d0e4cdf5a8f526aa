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
from assets.standardise.sources import THIN_RECORD

# The capped blocking keys (assets/standardise/block_keys.py): made from the population, not from
# the record alone, so a record's key moves when its block crosses its size limit.
CAPPED_KEY_COLUMNS = [key.name for key in load_rules().capped_block_keys]
# What places a record in the capped keys' blocks: the values and split expressions they read. A
# night on which no record left a block (none deleted, none whose values here changed) only grew
# blocks, and a grown block's parts are parts of last night's (incremental.rekeyed_pairs).
CAPPED_KEY_BLOCKS = sorted({expression for key in load_rules().capped_block_keys
                            for expression in (*key.values, *key.split_by)})
# Only these columns go into Splink: what the rules compare and block on.
LINKAGE_COLUMNS = [
    "record_key", "source", "nik", "nik_matches_birth_date", "name_key", "name_key_nospace", "name_key_sorted",
    "name_first_key", "name_last_key", "sex", "birth_date", "birth_year", "birth_date_is_default",
    "kk", "passport", "passport_on_no_placement", "splp", "phone", "village_code", "district_code", "regency_code",
    "birth_regency_code",
    "lone_name_key",
] + CAPPED_KEY_COLUMNS
# Read by the clustering's rules, not by Splink (assets/linkage/families.py, twins.py): kept out of
# the frames Splink holds (at 1M, 0.12 GB more at the job's peak), but hashed with the linkage
# columns, so that a corrected relation makes a record a changed one on an incremental night.
FAMILY_COLUMNS = ["family_id", "family_relation"]


def source_of_key(column: str) -> pl.Expr:
    """The source of a record key (`<source>:<source_record_id>`)."""
    return pl.col(column).str.split_exact(":", 1).struct.field("field_0")


def train(records: pl.DataFrame, rules: LinkageRules, backend: LinkageBackend = DUCKDB) -> tuple[dict, list[str]]:
    """Trains m and u probabilities with a fixed seed; returns the model as Splink JSON, its SQL in
    the rules' dialect whichever backend trained it."""
    settings = with_frequency_u(rules.splink_settings(), rules.u_from_value_frequencies(), records)
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


def frequency_u(values: pl.Series) -> float | None:
    """The chance that two records, both with a value, agree on it: sum n(n-1) over the values'
    counts n, over M(M-1) for M records with a value. Random sampling estimates the same share, but
    an identifier repeats so rarely that a million sampled pairs hold none of it at 1M persons
    (u for "NIK equal" is about 4e-7 there), and Splink then scores the level with a default u
    of 7e-4: an equal NIK weighed 10.4 instead of about 21. At least one agreeing pair is counted
    when every value is unique. None with fewer than two values."""
    present = values.drop_nulls()
    m = present.len()
    if m < 2:
        return None
    counts = present.value_counts()["count"].cast(pl.Float64)
    agreeing = float((counts * (counts - 1)).sum())
    return max(agreeing, 2.0) / (m * (m - 1))


def with_frequency_u(settings: dict, columns: dict[tuple[str, str], str], records: pl.DataFrame) -> dict:
    """`settings` with u fixed from value frequencies on the levels of `columns` ((comparison,
    level label) -> column), so that random sampling and EM leave it as it is."""
    comparisons = []
    for comparison in settings["comparisons"]:
        levels = []
        for level in comparison["comparison_levels"]:
            column = columns.get((comparison["output_column_name"], level.get("label_for_charts")))
            u = frequency_u(records[column]) if column else None
            levels.append({**level, "u_probability": u, "fix_u_probability": True} if u is not None else level)
        comparisons.append({**comparison, "comparison_levels": levels})
    return {**settings, "comparisons": comparisons}


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


def untrained_levels(model_json: dict) -> list[str]:
    """'comparison: level (m, u)' for every level whose m or u neither the rules fix nor training
    estimated (no pair of the training sessions or the u sample fell in it). A saved model drops
    such a value, and Splink scores the level with its default for the level's place in the
    comparison (m 0.0056 for the Excel NIK level at 1M: +5.8 bits) and says so at every prediction."""
    found = []
    for comparison in model_json["comparisons"]:
        for level in comparison["comparison_levels"]:
            missing = [p for p in ("m", "u") if not level.get("is_null_level") and level.get(f"{p}_probability") is None]
            if missing:
                found.append(f"{comparison['output_column_name']}: {level.get('label_for_charts')} "
                             f"({', '.join(missing)})")
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


# Records with neither a NIK nor a birth date: a name, at best an age and a region.
THIN_RECORDS = f"SELECT record_key FROM staging.person_records WHERE {THIN_RECORD}"


def held_back(pairs: pl.DataFrame, thin: pl.Series, threshold: float, thin_threshold: float | None) -> pl.Series:
    """For each of `pairs` (record_key_l, record_key_r, match_probability), whether it is held back
    from the cluster threshold: it scores from `threshold` up but below `thin_threshold`, and one
    of its records is thin (in `thin`, the keys THIN_RECORDS gives). Such a pair is no edge of
    the clustering; it can still join as a sole candidate (sole_candidates.py). A pair's answer
    depends on its own two records only, so an incremental night's kept components keep it."""
    p = pl.col("match_probability")
    if thin_threshold is None or thin_threshold <= threshold:
        return pl.Series("held_back", [False] * pairs.height, dtype=pl.Boolean)
    keys = thin.implode()
    return pairs.select(
        ((p >= threshold) & (p < thin_threshold)
         & (pl.col("record_key_l").is_in(keys) | pl.col("record_key_r").is_in(keys))).alias("held_back")
    ).to_series()


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
