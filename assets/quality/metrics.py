"""Clustering quality against ground truth: pairwise and B-cubed precision, recall and F1.
Only records present in both the clustering and the truth are counted."""

from __future__ import annotations

import polars as pl

from assets.frames import query_frames


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


def _pairs_involving(counts: pl.Expr, focus: pl.Expr) -> pl.Expr:
    """Pairs in groups of `counts` records of which `focus` are in the subset: all pairs minus
    the pairs with no subset record."""
    rest = counts - focus
    return (counts * (counts - 1) / 2 - rest * (rest - 1) / 2).sum()


def subset_pairwise_quality(predicted: pl.DataFrame, truth: pl.DataFrame, subset: pl.Series) -> dict[str, float]:
    """Pairwise precision and recall over the pairs that involve at least one record of `subset`
    (record keys), e.g. the records without a valid NIK: a false merge or a missed link of such a
    record counts, one among the other records does not."""
    both = predicted.join(truth, on="record_key", how="inner").with_columns(
        pl.col("record_key").is_in(subset.implode()).cast(pl.Int64).alias("in_subset")
    )
    def count(*keys: str) -> int:
        groups = both.group_by(*keys).agg(pl.len().alias("n"), pl.col("in_subset").sum().alias("f"))
        return int(groups.select(_pairs_involving(pl.col("n"), pl.col("f"))).item() or 0)

    predicted_pairs, true_pairs = count("person_id"), count("true_person_id")
    correct_pairs = count("person_id", "true_person_id")
    return {
        "records": int(both["in_subset"].sum()),
        "pairs_predicted": predicted_pairs,
        "pairs_true": true_pairs,
        "pairs_correct": correct_pairs,
        "pairwise_precision": correct_pairs / predicted_pairs if predicted_pairs else 1.0,
        "pairwise_recall": correct_pairs / true_pairs if true_pairs else 1.0,
    }


def true_pairs(truth: pl.DataFrame) -> pl.DataFrame:
    """Every pair of records of one true person, the smaller key left: record_key_l, record_key_r."""
    return (
        truth.join(truth, on="true_person_id", suffix="_r")
        .filter(pl.col("record_key") < pl.col("record_key_r"))
        .select(pl.col("record_key").alias("record_key_l"), "record_key_r")
    )


def blocking_recall(records: pl.DataFrame, truth: pl.DataFrame, rules: list[str]) -> pl.DataFrame:
    """The share of true pairs that the blocking rules let through, rule by rule and together.
    records: record_key and the columns the rules use. Returns rule, true_pairs_through (by the
    rule itself), new_true_pairs (not let through by an earlier rule), cumulative_recall; the
    last row, rule 'all rules', holds the blocking recall."""
    pairs = true_pairs(truth.join(records.select("record_key"), on="record_key", how="semi"))
    total = max(pairs.height, 1)
    flags = ",\n".join(f"coalesce(({rule}), false) AS rule_{i}" for i, rule in enumerate(rules))
    hits = query_frames(
        f"SELECT {flags} FROM true_pairs p JOIN records l ON l.record_key = p.record_key_l "
        "JOIN records r ON r.record_key = p.record_key_r",
        {"records": records, "true_pairs": pairs},
    )
    rows, seen = [], pl.lit(False)
    for i, rule in enumerate(rules):
        flag = pl.col(f"rule_{i}")
        through, new = hits.select(flag.sum().alias("a"), (flag & ~seen).sum().alias("b")).row(0)
        seen = seen | flag
        rows.append({"rule": rule, "true_pairs_through": through, "new_true_pairs": new})
    all_through = hits.select(seen.sum()).item() if rules else 0
    rows.append({"rule": "all rules", "true_pairs_through": all_through, "new_true_pairs": 0})
    frame = pl.DataFrame(rows, schema={"rule": pl.String, "true_pairs_through": pl.Int64, "new_true_pairs": pl.Int64})
    return frame.with_columns(
        pl.when(pl.col("rule") == "all rules").then(pl.col("true_pairs_through"))
        .otherwise(pl.col("new_true_pairs").cum_sum()).truediv(total).alias("cumulative_recall"),
        pl.lit(pairs.height).alias("true_pairs"),
    )
