"""Linkage layer: the trained Splink model, the scored pairs and the clusters. Their code version
is the hash of `linkage_rules/`, so a rule change shows as a changed code version in the UI."""

import json

import dagster as dg
import polars as pl

from assets.linkage.constraints import ClusterConstraints, enforce_constraints
from assets.linkage.model import cluster, predict_pairs, save_model, train
from assets.linkage.review import constraints_from_answers, read_answers, review_queue
from assets.linkage.rules import load_rules, rules_code_version
from assets.metadata import markdown_table
from assets.warehouse import PaduSettings, Warehouse

LINKAGE_GROUP = "linkage"


@dg.asset(
    key=["linkage", "model"],
    deps=[dg.AssetKey(["staging", "person_records"])],
    group_name=LINKAGE_GROUP,
    code_version=rules_code_version(),
    description="The Splink model trained on tonight's person records with the rules of "
    "`linkage_rules/model.yaml` (fixed seed). Each run's model is kept as JSON under "
    "`$PADU_DATA_DIR/models/`.",
    kinds={"splink", "duckdb"},
)
def linkage_model(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
    rules = load_rules()
    records = warehouse.read("staging.person_records")
    model_json, notes = train(records, rules)
    for note in notes:
        context.log.warning(note)
    path = padu.models_path / f"model-{rules.version_hash}-{context.run.run_id}.json"
    save_model(model_json, path)
    warehouse.write({
        "linkage.model": pl.DataFrame({
            "run_id": [context.run.run_id], "rules_version": [rules.version_hash],
            "model_path": [str(path)], "model_json": [json.dumps(model_json)],
        })
    })
    weights = pl.DataFrame([
        {"comparison": c["output_column_name"], "level": lvl.get("label_for_charts"),
         "m": lvl.get("m_probability"), "u": lvl.get("u_probability")}
        for c in model_json["comparisons"] for lvl in c["comparison_levels"]
        if not lvl.get("is_null_level")
    ])
    return dg.MaterializeResult(
        metadata={
            "model_path": dg.MetadataValue.path(str(path)),
            "rules_version": rules.version_hash,
            "probability_two_random_records_match": model_json["probability_two_random_records_match"],
            "m_and_u": markdown_table(weights.with_columns(pl.col("m", "u").round(5)), max_rows=100),
            "training_notes": "\n".join(notes) or "none",
        }
    )


@dg.asset(
    key=["linkage", "pairs"],
    deps=[linkage_model],
    group_name=LINKAGE_GROUP,
    code_version=rules_code_version(),
    description="Candidate pairs from the blocking rules scored by the model, kept from the "
    "prediction threshold up: record keys, match weight and probability, and the comparison "
    "level of each comparison (no personal values).",
    kinds={"splink", "duckdb"},
)
def linkage_pairs(warehouse: Warehouse) -> dg.MaterializeResult:
    rules = load_rules()
    records = warehouse.read("staging.person_records")
    model_json = json.loads(warehouse.read("linkage.model")["model_json"][0])
    pairs = predict_pairs(records, model_json, rules)
    warehouse.write({"linkage.pairs": pairs})
    p = pl.col("match_probability")
    band = (
        pl.when(p >= 0.999).then(pl.lit(">= 0.999")).when(p >= 0.99).then(pl.lit("0.99 - 0.999"))
        .when(p >= 0.9).then(pl.lit("0.9 - 0.99")).otherwise(pl.lit("< 0.9"))
    )
    bands = pairs.group_by(band.alias("probability")).len("pairs").sort("probability")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": pairs.height, "pairs_by_probability": markdown_table(bands)}
    )


@dg.asset(
    key=["linkage", "clusters"],
    deps=[linkage_pairs],
    group_name=LINKAGE_GROUP,
    code_version=rules_code_version(),
    description="Records grouped into persons: connected components of the pairs at the cluster "
    "threshold plus the links the sources state and the reviewers' matches; clusters above the "
    "size limit or holding a reviewer's non-match are split (assets/linkage/constraints.py). "
    "Also writes `linkage.cluster_splits` and the clerical review queue (`linkage.review_queue`, "
    "`$PADU_DATA_DIR/review/queue.csv`).",
    kinds={"splink", "duckdb"},
    check_specs=[dg.AssetCheckSpec(
        "cluster_size_within_limit", asset=["linkage", "clusters"], blocking=True,
        description="No person holds more records than `clustering.max_cluster_size`.",
    )],
)
def linkage_clusters(padu: PaduSettings, warehouse: Warehouse):
    rules = load_rules()
    records = warehouse.read("staging.person_records", ["record_key"])
    pairs = warehouse.read("linkage.pairs")
    stated = warehouse.read("staging.stated_links")
    review_dir = padu.data_path / "review"
    answers = read_answers(review_dir / "answers.csv")
    reviewed_matches, cannot_links = constraints_from_answers(answers)
    must_links = pl.concat([stated, reviewed_matches], how="vertical_relaxed")
    clusters = cluster(records, pairs, must_links, rules.cluster_threshold)
    edges = pl.concat(
        [pairs.select("record_key_l", "record_key_r", "match_probability"),
         must_links.select("record_key_l", "record_key_r", pl.lit(1.0).alias("match_probability"))],
        how="vertical_relaxed",
    )
    clusters, splits = enforce_constraints(
        clusters, edges, ClusterConstraints(rules.max_cluster_size, rules.stricter_thresholds, cannot_links)
    )
    lower, upper = rules.review_band
    queue = review_queue(pairs, answers, lower, upper)
    warehouse.write({"linkage.clusters": clusters, "linkage.cluster_splits": splits,
                     "linkage.review_queue": queue})
    review_dir.mkdir(parents=True, exist_ok=True)
    queue.write_csv(review_dir / "queue.csv")
    sizes = clusters.group_by("cluster_id").len("size").group_by("size").len("clusters").sort("size")
    largest = int(sizes["size"].max() or 0)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": clusters.height,
            "clusters": int(sizes["clusters"].sum()),
            "largest_cluster": largest,
            "cluster_sizes": markdown_table(sizes),
            "clusters_split": splits.height,
            "review_answers_applied": answers.height,
            "review_queue": queue.height,
            "review_queue_file": dg.MetadataValue.path(str(review_dir / "queue.csv")),
        }
    )
    yield dg.AssetCheckResult(
        check_name="cluster_size_within_limit",
        passed=largest <= rules.max_cluster_size,
        description=f"largest person has {largest} records; the limit is {rules.max_cluster_size}",
    )
