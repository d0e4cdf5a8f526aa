"""Pairwise and B-cubed figures on clusterings small enough to count by hand."""

from __future__ import annotations

import polars as pl
import pytest

from assets.quality.metrics import clustering_quality


def frame(pairs: list[tuple[str, str]], column: str) -> pl.DataFrame:
    return pl.DataFrame(pairs, schema={"record_key": pl.String, column: pl.String}, orient="row")


def test_perfect_clustering_scores_one():
    truth = frame([("a", "T1"), ("b", "T1"), ("c", "T2")], "true_person_id")
    predicted = frame([("a", "P9"), ("b", "P9"), ("c", "P8")], "person_id")
    q = clustering_quality(predicted, truth)
    assert q["pairwise_precision"] == q["pairwise_recall"] == q["bcubed_f1"] == 1.0


def test_one_false_merge_and_one_missed_link():
    # truth: {a,b,c} {d} ; predicted: {a,b} {c,d}
    truth = frame([("a", "T1"), ("b", "T1"), ("c", "T1"), ("d", "T2")], "true_person_id")
    predicted = frame([("a", "P1"), ("b", "P1"), ("c", "P2"), ("d", "P2")], "person_id")
    q = clustering_quality(predicted, truth)
    # predicted pairs ab, cd; true pairs ab, ac, bc; correct: ab
    assert (q["pairs_predicted"], q["pairs_true"], q["pairs_correct"]) == (2, 3, 1)
    assert q["pairwise_precision"] == pytest.approx(0.5)
    assert q["pairwise_recall"] == pytest.approx(1 / 3)
    # B-cubed precision: a 1, b 1, c 1/2, d 1/2 -> 0.75; recall: a 2/3, b 2/3, c 1/3, d 1 -> 2/3
    assert q["bcubed_precision"] == pytest.approx(0.75)
    assert q["bcubed_recall"] == pytest.approx(2 / 3)


def test_records_missing_from_either_side_are_not_counted():
    truth = frame([("a", "T1"), ("b", "T1"), ("x", "T3")], "true_person_id")
    predicted = frame([("a", "P1"), ("b", "P1"), ("y", "P2")], "person_id")
    assert clustering_quality(predicted, truth)["records"] == 2
