"""Clustering quality against ground truth: pairwise and B-cubed precision, recall and F1.
Only records present in both the clustering and the truth are counted.

Every figure is a sum over the cells of the clustering against the truth: the records that one
published person and one true person share (`cell_counts`). At 1.3M records the cells are taken
once, by one group-by, and the rest is arithmetic on them (1.7 s for both reports before, with a
window over every record for each B-cubed term)."""

from __future__ import annotations

import polars as pl

from assets.frames import query_frames

IN_SUBSET = "in_subset"


def _pairs(counts: pl.Expr) -> pl.Expr:
    return (counts * (counts - 1) // 2).sum()


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def cell_counts(predicted: pl.DataFrame, truth: pl.DataFrame, subset: pl.Series | None = None) -> pl.DataFrame:
    """predicted: record_key, person_id; truth: record_key, true_person_id. One row per person_id
    and true_person_id that share records: `n` records, `in_subset` of them among the record keys
    of `subset` (0 without one)."""
    # The flag is taken before the group-by: inside it the subset would be compared per group.
    flag = pl.col("record_key").is_in(subset.implode()) if subset is not None else pl.lit(False)
    both = predicted.join(truth, on="record_key", how="inner").with_columns(flag.cast(pl.Int64).alias(IN_SUBSET))
    return both.group_by("person_id", "true_person_id").agg(
        pl.len().cast(pl.Int64).alias("n"), pl.col(IN_SUBSET).sum()
    )


def clustering_quality(cells: pl.DataFrame) -> dict[str, float]:
    """Pairwise and B-cubed figures from the `cell_counts` of a clustering and its truth."""
    if cells.is_empty():
        return {"records": 0}
    n = pl.col("n")
    sized = cells.with_columns(n.sum().over("person_id").alias("cluster_size"),
                               n.sum().over("true_person_id").alias("truth_size"))
    totals = sized.select(
        n.sum().alias("records"),
        pl.col("person_id").n_unique().alias("persons_predicted"),
        pl.col("true_person_id").n_unique().alias("persons_true"),
        _pairs(n).alias("correct"),
        # Summed over its cells, n * size is a group's size squared: its pairs are (that - size) / 2.
        (n * pl.col("cluster_size")).sum().alias("cluster_squares"),
        (n * pl.col("truth_size")).sum().alias("truth_squares"),
        # B-cubed: each record of a cell has n of its cluster's records in its true person, and n
        # of its true person's records in its cluster.
        (n * n / pl.col("cluster_size")).sum().alias("b3_p"),
        (n * n / pl.col("truth_size")).sum().alias("b3_r"),
    ).row(0, named=True)
    predicted_pairs = (totals["cluster_squares"] - totals["records"]) // 2
    true_pairs = (totals["truth_squares"] - totals["records"]) // 2
    correct_pairs = totals["correct"]
    precision = correct_pairs / predicted_pairs if predicted_pairs else 1.0
    recall = correct_pairs / true_pairs if true_pairs else 1.0
    b3_precision, b3_recall = totals["b3_p"] / totals["records"], totals["b3_r"] / totals["records"]
    return {
        "records": int(totals["records"]),
        "persons_predicted": int(totals["persons_predicted"]),
        "persons_true": int(totals["persons_true"]),
        "pairs_predicted": int(predicted_pairs),
        "pairs_true": int(true_pairs),
        "pairs_correct": int(correct_pairs),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": _f1(precision, recall),
        "bcubed_precision": b3_precision,
        "bcubed_recall": b3_recall,
        "bcubed_f1": _f1(b3_precision, b3_recall),
    }


def _pairs_involving(counts: pl.Expr, focus: pl.Expr) -> pl.Expr:
    """Pairs in groups of `counts` records of which `focus` are in the subset: all pairs minus
    the pairs with no subset record."""
    rest = counts - focus
    return (counts * (counts - 1) // 2 - rest * (rest - 1) // 2).sum()


def subset_pairwise_quality(cells: pl.DataFrame) -> dict[str, float]:
    """Pairwise precision and recall over the pairs that involve at least one record of the
    subset that `cell_counts` was given (e.g. the records without a valid NIK): a false merge or a
    missed link of such a record counts, one among the other records does not."""

    def count(*keys: str) -> int:
        groups = cells.group_by(*keys).agg(pl.col("n").sum(), pl.col(IN_SUBSET).sum())
        return int(groups.select(_pairs_involving(pl.col("n"), pl.col(IN_SUBSET))).item() or 0)

    predicted_pairs, true_pairs = count("person_id"), count("true_person_id")
    correct_pairs = int(cells.select(_pairs_involving(pl.col("n"), pl.col(IN_SUBSET))).item() or 0)
    return {
        "records": int(cells[IN_SUBSET].sum()),
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


# Lower bounds of the match-probability bands of `pairs_by_score` (the last band runs to 1).
SCORE_BANDS = (0.5, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999)


def pairs_by_score(pairs: pl.DataFrame, predicted: pl.DataFrame, truth: pl.DataFrame, thin: pl.Series,
                   bands: tuple[float, ...] = SCORE_BANDS) -> pl.DataFrame:
    """The scored pairs (record_key_l, record_key_r, match_probability) by match-probability band
    and by whether one of the two records is thin (a key in `thin`): how many of them the
    clustering (`predicted`: record_key, person_id) made one person and how many it left apart,
    each split into true and false pairs by the truth (record_key, true_person_id). Only pairs
    whose two records are in both are counted; pairs below the first band are not counted.

    What a threshold could still gain: the true pairs left apart in a band come with that band's
    false pairs left apart (a pair apart above the cluster threshold was kept apart by a rule:
    a conflict, a cannot-link, a held-back thin record)."""
    bounds = sorted(bands)
    lower = pl.lit(None, dtype=pl.Float64)
    p = pl.col("match_probability")
    for bound in bounds:
        lower = pl.when(p >= bound).then(pl.lit(bound)).otherwise(lower)
    upper = dict(zip(bounds, [*bounds[1:], 1.0]))
    thin_keys = thin.implode()
    keyed = predicted.join(truth, on="record_key", how="inner")
    both = (
        pairs.join(keyed.rename({"record_key": "record_key_l", "person_id": "person_l", "true_person_id": "true_l"}),
                   on="record_key_l", how="inner")
        .join(keyed.rename({"record_key": "record_key_r", "person_id": "person_r", "true_person_id": "true_r"}),
              on="record_key_r", how="inner")
        .with_columns(
            lower.alias("band_from"),
            (pl.col("person_l") == pl.col("person_r")).alias("one_person"),
            (pl.col("true_l") == pl.col("true_r")).alias("true_pair"),
            (pl.col("record_key_l").is_in(thin_keys) | pl.col("record_key_r").is_in(thin_keys))
            .alias("with_thin_record"),
        )
        .filter(pl.col("band_from").is_not_null())
    )
    counts = both.group_by("band_from", "with_thin_record").agg(
        (pl.col("one_person") & pl.col("true_pair")).sum().alias("one_person_true"),
        (pl.col("one_person") & ~pl.col("true_pair")).sum().alias("one_person_false"),
        (~pl.col("one_person") & pl.col("true_pair")).sum().alias("apart_true"),
        (~pl.col("one_person") & ~pl.col("true_pair")).sum().alias("apart_false"),
    )
    return (
        counts.with_columns(pl.col("band_from").replace_strict(upper, return_dtype=pl.Float64).alias("band_to"))
        .select("band_from", "band_to", "with_thin_record", pl.all().exclude("band_from", "band_to", "with_thin_record")
                .cast(pl.Int64))
        .sort("band_from", "with_thin_record")
    )
