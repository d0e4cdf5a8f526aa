"""Clustering quality against ground truth: pairwise and B-cubed precision, recall and F1.
Only records present in both the clustering and the truth are counted."""

from __future__ import annotations

import polars as pl


def _pairs(counts: pl.Expr) -> pl.Expr:
    return (counts * (counts - 1) / 2).sum()


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def clustering_quality(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """predicted: record_key, person_id. truth: record_key, true_person_id."""
    both = predicted.join(truth, on="record_key", how="inner")
    if both.is_empty():
        return {"records": 0}
    cell = both.group_by("person_id", "true_person_id").len("n")
    predicted_pairs = both.group_by("person_id").len("n").select(_pairs(pl.col("n"))).item()
    true_pairs = both.group_by("true_person_id").len("n").select(_pairs(pl.col("n"))).item()
    correct_pairs = cell.select(_pairs(pl.col("n"))).item()
    precision = correct_pairs / predicted_pairs if predicted_pairs else 1.0
    recall = correct_pairs / true_pairs if true_pairs else 1.0

    sizes = both.with_columns(
        pl.len().over("person_id").alias("cluster_size"),
        pl.len().over("true_person_id").alias("truth_size"),
        pl.len().over("person_id", "true_person_id").alias("shared"),
    )
    b3 = sizes.select(
        (pl.col("shared") / pl.col("cluster_size")).mean().alias("p"),
        (pl.col("shared") / pl.col("truth_size")).mean().alias("r"),
    ).row(0, named=True)
    return {
        "records": both.height,
        "persons_predicted": both["person_id"].n_unique(),
        "persons_true": both["true_person_id"].n_unique(),
        "pairs_predicted": int(predicted_pairs),
        "pairs_true": int(true_pairs),
        "pairs_correct": int(correct_pairs),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": _f1(precision, recall),
        "bcubed_precision": b3["p"],
        "bcubed_recall": b3["r"],
        "bcubed_f1": _f1(b3["p"], b3["r"]),
    }
