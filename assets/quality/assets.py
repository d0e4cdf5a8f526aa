"""Quality report: the published clustering against the ground truth of a synthetic delivery set
(contract section 5). The linkage never reads the truth; only this report does."""

import dagster as dg
import polars as pl

from assets.publish.store import read_published
from assets.quality.metrics import clustering_quality
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
    "`<landing>/_truth/person_truth.csv`, when the deliveries carry one.",
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
    quality = clustering_quality(predicted, read_truth(padu.truth_file))
    warehouse.write({"quality.report": pl.DataFrame([{"run_id": context.run.run_id, "truth": True, **quality}])})
    rounded = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in quality.items()}
    yield dg.MaterializeResult(metadata=rounded)
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
