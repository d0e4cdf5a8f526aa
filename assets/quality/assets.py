"""Quality report: the published clustering against the ground truth of a synthetic delivery set
(contract section 5). The linkage never reads the truth; only this report does."""

import dagster as dg
import polars as pl

from assets.linkage.model import LINKAGE_COLUMNS
from assets.linkage.rules import load_rules
from assets.metadata import markdown_table
from assets.publish.store import read_published
from assets.quality.metrics import blocking_recall, clustering_quality, subset_pairwise_quality
from assets.warehouse import PaduSettings, Warehouse

MIN_PAIRWISE_PRECISION = 0.99
MIN_PAIRWISE_RECALL = 0.95


def read_truth(path) -> pl.DataFrame:
    truth = pl.read_csv(path, schema_overrides={"source_record_id": pl.String, "true_person_id": pl.String})
    return truth.select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"), "true_person_id"
    )


@dg.asset(
    key=["quality", "report"],
    deps=[dg.AssetKey(["published", "person_records"])],
    group_name="quality",
    description="Pairwise and B-cubed precision, recall and F1 of the published persons against "
    "`<landing>/_truth/person_truth.csv`, when the deliveries carry one; the same pairwise figures "
    "for the records without a valid NIK; and the blocking recall, the share of true pairs the "
    "blocking rules let through (`quality.blocking_recall`, one row per rule).",
    kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec(
        "linkage_quality_targets", asset=["quality", "report"],
        description=f"Pairwise precision >= {MIN_PAIRWISE_PRECISION} and recall >= {MIN_PAIRWISE_RECALL}.",
    )],
)
def quality_report(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
    published = read_published(padu.published_path, "person_records")
    if not padu.truth_file.exists() or published is None:
        context.log.info("no ground truth file: the quality report is empty")
        warehouse.write({"quality.report": pl.DataFrame({"run_id": [context.run.run_id], "truth": [False]})})
        yield dg.MaterializeResult(metadata={"truth_file": "none"})
        yield dg.AssetCheckResult(
            check_name="linkage_quality_targets", passed=True,
            description="no ground truth: nothing to measure",
        )
        return
    predicted = published.select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"), "person_id"
    )
    truth = read_truth(padu.truth_file)
    quality = clustering_quality(predicted, truth)
    records = warehouse.read("staging.person_records", LINKAGE_COLUMNS)
    without_nik = subset_pairwise_quality(predicted, truth, records.filter(pl.col("nik").is_null())["record_key"])
    quality |= {f"no_valid_nik_{key}": value for key, value in without_nik.items()}
    rules = load_rules()
    recall = blocking_recall(records, truth, rules.blocking_rules)
    quality["blocking_recall"] = recall["cumulative_recall"][-1]
    quality["true_pairs_not_blocked"] = int(recall["true_pairs"][0] - recall["true_pairs_through"][-1])
    warehouse.write({
        "quality.report": pl.DataFrame([{"run_id": context.run.run_id, "truth": True, **quality}]),
        "quality.blocking_recall": recall.with_columns(pl.lit(context.run.run_id).alias("run_id")),
    })
    rounded = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in quality.items()}
    shown = recall.select(
        "rule", "true_pairs_through", "new_true_pairs", pl.col("cumulative_recall").round(5)
    )
    yield dg.MaterializeResult(metadata={**rounded, "blocking_recall_by_rule": markdown_table(shown)})
    passed = (
        quality["pairwise_precision"] >= MIN_PAIRWISE_PRECISION
        and quality["pairwise_recall"] >= MIN_PAIRWISE_RECALL
    )
    yield dg.AssetCheckResult(
        check_name="linkage_quality_targets",
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"pairwise precision {quality['pairwise_precision']:.4f}, recall {quality['pairwise_recall']:.4f}"
        ),
        metadata={"pairwise_precision": rounded["pairwise_precision"], "pairwise_recall": rounded["pairwise_recall"]},
    )
