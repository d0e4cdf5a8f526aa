"""Pairwise and B-cubed figures on clusterings small enough to count by hand."""

from __future__ import annotations

import itertools
import random

import polars as pl
import pytest

from assets.quality.metrics import (
    blocking_recall, cell_counts, clustering_quality, pairs_by_score, subset_pairwise_quality,
)


def frame(pairs: list[tuple[str, str]], column: str) -> pl.DataFrame:
    return pl.DataFrame(pairs, schema={"record_key": pl.String, column: pl.String}, orient="row")


def test_perfect_clustering_scores_one():
    truth = frame([("a", "T1"), ("b", "T1"), ("c", "T2")], "true_person_id")
    predicted = frame([("a", "P9"), ("b", "P9"), ("c", "P8")], "person_id")
    q = clustering_quality(cell_counts(predicted, truth))
    assert q["pairwise_precision"] == q["pairwise_recall"] == q["bcubed_f1"] == 1.0


def test_one_false_merge_and_one_missed_link():
    # truth: {a,b,c} {d} ; predicted: {a,b} {c,d}
    truth = frame([("a", "T1"), ("b", "T1"), ("c", "T1"), ("d", "T2")], "true_person_id")
    predicted = frame([("a", "P1"), ("b", "P1"), ("c", "P2"), ("d", "P2")], "person_id")
    q = clustering_quality(cell_counts(predicted, truth))
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
    assert clustering_quality(cell_counts(predicted, truth))["records"] == 2


def test_subset_figures_count_only_pairs_that_involve_a_subset_record():
    # truth: {a,b,c} {d,e}; predicted: {a,b} {c,d,e}; subset: c (say, the record without a NIK)
    truth = frame([("a", "T1"), ("b", "T1"), ("c", "T1"), ("d", "T2"), ("e", "T2")], "true_person_id")
    predicted = frame([("a", "P1"), ("b", "P1"), ("c", "P2"), ("d", "P2"), ("e", "P2")], "person_id")
    q = subset_pairwise_quality(cell_counts(predicted, truth, pl.Series(["c"])))
    # predicted pairs with c: cd, ce (both wrong); true pairs with c: ac, bc (both missed)
    assert (q["records"], q["pairs_predicted"], q["pairs_true"], q["pairs_correct"]) == (1, 2, 2, 0)
    assert q["pairwise_precision"] == q["pairwise_recall"] == 0.0
    # the subset {d}: predicted cd, de; true de -> precision 1/2, recall 1
    q = subset_pairwise_quality(cell_counts(predicted, truth, pl.Series(["d"])))
    assert (q["pairwise_precision"], q["pairwise_recall"]) == (0.5, 1.0)


def test_blocking_recall_counts_true_pairs_each_rule_lets_through():
    records = pl.DataFrame({
        "record_key": ["a", "b", "c", "d", "e"],
        "nik": ["1", "1", None, "7", "8"],
        "name": ["SITI", "SITI", "SITI", "BUDI", "BUDI"],
    })
    truth = frame([("a", "T1"), ("b", "T1"), ("c", "T1"), ("d", "T2"), ("e", "T2")], "true_person_id")
    # true pairs: ab ac bc de. The NIK lets ab through; the name with a NIK missing ac and bc.
    rules = ["l.nik = r.nik", "l.name = r.name AND (l.nik IS NULL OR r.nik IS NULL)"]
    recall = blocking_recall(records, truth, rules)
    assert recall["true_pairs_through"].to_list() == [1, 2, 3]
    assert recall["new_true_pairs"].to_list() == [1, 2, 0]
    # a NULL rule result (c's NIK against a's) lets nothing through; de is never let through
    assert recall["cumulative_recall"].to_list() == pytest.approx([0.25, 0.75, 0.75])


def test_figures_from_cells_equal_a_count_over_every_pair_of_records():
    # A random clustering of 60 records against a random truth, counted pair by pair.
    rng = random.Random(7)
    keys = [f"r{i}" for i in range(60)]
    truth = frame([(k, f"T{rng.randrange(15)}") for k in keys], "true_person_id")
    predicted = frame([(k, f"P{rng.randrange(20)}") for k in keys[5:]], "person_id")  # 5 unpublished
    subset = pl.Series([k for k in keys if rng.random() < 0.3])
    t = dict(truth.iter_rows())
    p = dict(predicted.iter_rows())
    shared = [k for k in keys if k in p]
    pairs = list(itertools.combinations(shared, 2))
    same_p = {(a, b) for a, b in pairs if p[a] == p[b]}
    same_t = {(a, b) for a, b in pairs if t[a] == t[b]}
    q = clustering_quality(cell_counts(predicted, truth))
    assert (q["pairs_predicted"], q["pairs_true"], q["pairs_correct"]) == (len(same_p), len(same_t), len(same_p & same_t))
    b3_p = sum(sum(t[o] == t[k] for o in shared if p[o] == p[k]) / sum(p[o] == p[k] for o in shared) for k in shared)
    b3_r = sum(sum(t[o] == t[k] for o in shared if p[o] == p[k]) / sum(t[o] == t[k] for o in shared) for k in shared)
    assert q["bcubed_precision"] == pytest.approx(b3_p / len(shared))
    assert q["bcubed_recall"] == pytest.approx(b3_r / len(shared))
    focus = set(subset.to_list())
    involving = {(a, b) for a, b in pairs if a in focus or b in focus}
    s = subset_pairwise_quality(cell_counts(predicted, truth, subset))
    assert s["records"] == len(focus & set(shared))
    assert (s["pairs_predicted"], s["pairs_true"], s["pairs_correct"]) == (
        len(same_p & involving), len(same_t & involving), len(same_p & same_t & involving))


def test_scored_pairs_by_band_split_by_clustering_truth_and_thin_records():
    # truth {a,b,c} {d,e} {f}; published {a,b} {c,d} {e} {f}; c has no NIK and no birth date.
    truth = frame([("a", "T1"), ("b", "T1"), ("c", "T1"), ("d", "T2"), ("e", "T2"), ("f", "T3")], "true_person_id")
    predicted = frame([("a", "P1"), ("b", "P1"), ("c", "P2"), ("d", "P2"), ("e", "P3"), ("f", "P4")], "person_id")
    pairs = pl.DataFrame({
        "record_key_l": ["a", "a", "c", "d", "e", "b"],
        "record_key_r": ["b", "c", "d", "e", "f", "x"],  # x: in neither: not counted
        "match_probability": [0.9995, 0.97, 0.55, 0.4, 0.92, 0.99],
    })
    got = pairs_by_score(pairs, predicted, truth, pl.Series(["c"]))
    rows = {(r["band_from"], r["with_thin_record"]): r for r in got.iter_rows(named=True)}
    assert set(rows) == {(0.999, False), (0.95, True), (0.9, False), (0.5, True)}  # d-e is below every band
    assert rows[(0.999, False)]["band_to"] == 1.0 and rows[(0.999, False)]["one_person_true"] == 1
    assert rows[(0.95, True)]["band_to"] == 0.98 and rows[(0.95, True)]["apart_true"] == 1  # a-c: missed
    assert rows[(0.9, False)]["apart_false"] == 1  # e-f: rightly apart
    assert rows[(0.5, True)]["one_person_false"] == 1  # c-d: a false merge
    assert got.select(pl.sum_horizontal("one_person_true", "one_person_false", "apart_true", "apart_false")).sum().item() == 4
