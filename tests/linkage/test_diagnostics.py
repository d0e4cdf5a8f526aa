"""Diagnostics: exact blocking counts, charts built from the model alone, link rates."""

from __future__ import annotations

import json
import warnings

import polars as pl

from assets.linkage.assets import (
    GONE_CLUSTERS, METRICS_STATE, REMADE_CLUSTERS_TABLE, _cluster_metrics_tonight, _stored_metrics_built_on,
)
from assets.linkage.diagnostics import (
    blocking_recount_reason, blocking_report, cluster_metrics, link_rates, model_charts,
    model_charts_of,
)
from assets.linkage.model import LINKAGE_COLUMNS, train
from assets.linkage.recluster import CLUSTER_STATE, REDONE
from assets.linkage.rules import load_rules
from assets.standardise.block_keys import add_capped_keys
from assets.warehouse import warehouse_in


def records() -> pl.DataFrame:
    rows = [
        # record_key, source, nik, name_key, birth_date, regency
        ("dtsen_individu:1", "dtsen_individu", "3212014107850001", "SITI AMINA", "1985-07-01", "3212"),
        ("p2mi_penempatan:9", "p2mi_penempatan", "3212014107850001", "SITI AMINA", "1985-07-01", "3212"),
        ("dtsen_individu:2", "dtsen_individu", "3212011203800002", "BUDI", "1980-03-12", "3212"),
        ("sr_siswa:5", "sr_siswa", None, "BUDI", "1980-03-12", "3301"),
    ]
    frame = pl.DataFrame(rows, schema=["record_key", "source", "nik", "name_key", "birth_date", "regency_code"],
                         orient="row")
    keys = load_rules().capped_block_keys
    extra = {c: pl.lit(None, dtype=pl.String) for c in [*LINKAGE_COLUMNS, "village_code"]
             if c not in frame.columns and c not in {k.name for k in keys}}
    return frame.with_columns(**extra).with_columns(
        pl.col("birth_date").str.to_date(),
        pl.col("birth_date").str.slice(0, 4).cast(pl.Int32).alias("birth_year"),
        pl.lit(False).alias("birth_date_is_default"),
        pl.col("name_key").alias("name_key_nospace"),
        pl.col("name_key").alias("name_first_key"),
        pl.lit(True).alias("nik_matches_birth_date"),
    ).pipe(add_capped_keys, keys).select(LINKAGE_COLUMNS)


def test_blocking_report_counts_each_rules_new_pairs_exactly():
    report = blocking_report(records(), load_rules())
    first = report.row(0, named=True)
    assert first["rule"] == "l.nik = r.nik" and first["new_pairs"] == 1
    # SITI (same NIK) and BUDI (same first name and birth date) are the only candidate pairs.
    assert report["cumulative_pairs"][-1] == 2
    assert report["new_pairs"].sum() == 2


def test_charts_come_from_the_model_and_hold_no_record(tmp_path):
    model, _ = train(records(), load_rules())
    paths = model_charts(model, tmp_path)
    html = paths["match_weights"].read_text()
    # A record's name in full: the model's own SQL names low-information name parts (SITI, NUR).
    assert "NIK equal" in html and "3212014107850001" not in html and "SITI AMINA" not in html
    assert paths["m_u_parameters"].exists()
    json.dumps(model)  # the model itself is plain JSON


def test_charts_are_drawn_once_per_model(tmp_path):
    model, _ = train(records(), load_rules())
    paths = model_charts_of("model-a", model, tmp_path)
    assert paths["match_weights"] == tmp_path / "models" / "model-a" / "match_weights.html"
    drawn = {name: path.stat().st_mtime_ns for name, path in paths.items()}
    paths["m_u_parameters"].write_text("kept")  # a second night reads nothing and redraws nothing
    assert model_charts_of("model-a", model, tmp_path) == paths
    assert paths["m_u_parameters"].read_text() == "kept"
    assert paths["match_weights"].stat().st_mtime_ns == drawn["match_weights"]
    # Another model, or a chart gone: drawn (again), never from a half-written file.
    assert "NIK equal" in model_charts_of("model-b", model, tmp_path)["match_weights"].read_text()
    paths["match_weights"].unlink()
    assert "NIK equal" in model_charts_of("model-a", model, tmp_path)["m_u_parameters"].read_text()
    assert not list((tmp_path / "models").rglob(".partial-*"))


def test_link_rates_per_source_pair_and_province():
    clusters = pl.DataFrame({
        "record_key": ["dtsen_individu:1", "p2mi_penempatan:9", "dtsen_individu:2", "sr_siswa:5"],
        "cluster_id": ["a", "a", "b", "c"],
    })
    by_pair, by_province = link_rates(records(), clusters)
    row = by_pair.filter((pl.col("source_a") == "dtsen_individu") & (pl.col("source_b") == "p2mi_penempatan"))
    assert row.select("persons_in_a", "persons_in_both").row(0) == (2, 1)
    assert by_province.rows() == [("32", 3, round(2 / 3, 4)), ("33", 1, 0.0)]


def test_large_inputs_are_counted_on_a_sample(monkeypatch):
    import assets.linkage.diagnostics as diagnostics

    monkeypatch.setattr(diagnostics, "EXACT_COUNT_MAX_RECORDS", 2)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        report = blocking_report(records(), load_rules())
    assert report["is_estimate"].all()
    # Splink's warning for each estimate on fewer than 1,000 sampled pairs is the report's column,
    # not a line on the terminal: here every rule rests on a handful of sampled pairs at most.
    assert not [w for w in shown if "sampled pairwise comparisons" in str(w.message)]
    assert report["few_sampled_pairs"].is_not_null().all()
    assert report["few_sampled_pairs"].max() < 10
    exact = blocking_report(records().head(2), load_rules())
    assert not exact["is_estimate"].any()
    assert exact["few_sampled_pairs"].is_null().all()


def test_cluster_metrics_tell_a_chain_from_a_clique():
    clusters = pl.DataFrame({
        "record_key": ["a", "b", "c", "d", "p", "q", "r", "x", "y"],
        "cluster_id": ["chain"] * 4 + ["clique"] * 3 + ["pair"] * 2,
    })
    edges = pl.DataFrame({
        "record_key_l": ["a", "b", "c", "p", "p", "q", "x", "a"],
        "record_key_r": ["b", "c", "d", "q", "r", "r", "y", "c"],
        "match_probability": [0.99, 0.96, 0.999, 0.999, 0.98, 0.97, 0.99, 0.5],
    })
    metrics = cluster_metrics(clusters, edges, 0.95)
    # the pair is too small to measure; a-c at 0.5 is below the threshold
    assert metrics.select("cluster_id", "size", "edges", "weakest_edge").rows() == [
        ("chain", 4, 3, 0.96), ("clique", 3, 3, 0.97),
    ]
    assert metrics["density"].to_list() == [0.5, 1.0]


def _clustered(members: dict[str, list[str]], pairs: list[tuple[str, str, float]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    clusters = pl.DataFrame([(key, cid) for cid, keys in members.items() for key in keys],
                            schema=["record_key", "cluster_id"], orient="row")
    edges = pl.DataFrame(pairs, schema=["record_key_l", "record_key_r", "match_probability"], orient="row")
    return clusters, edges


def test_cluster_metrics_of_an_incremental_night_keep_untouched_persons_and_drop_dissolved_ones(tmp_path):
    strong = lambda *keys: [(l, r, 0.99) for i, l in enumerate(keys) for r in keys[i + 1:]]  # noqa: E731
    # Last night: three persons of three records (ids: each cluster's smallest record key).
    _, last_pairs = _clustered({}, [*strong("a1", "a2", "a3"), *strong("b1", "b2", "b3"),
                                    ("c1", "c2", 0.99), ("c2", "c3", 0.97)])
    last_clusters, _ = _clustered({"a1": ["a1", "a2", "a3"], "b1": ["b1", "b2", "b3"], "c1": ["c1", "c2", "c3"]}, [])
    # Tonight: a1 deleted (its person dissolves into a2 of two records), b4 joins b1, c untouched.
    clusters, pairs = _clustered(
        {"a2": ["a2", "a3"], "b1": ["b1", "b2", "b3", "b4"], "c1": ["c1", "c2", "c3"]},
        [("a2", "a3", 0.99), *strong("b1", "b2", "b3"), ("b4", "b1", 0.96), ("c1", "c2", 0.99), ("c2", "c3", 0.97)])
    warehouse = warehouse_in(tmp_path)
    stored = cluster_metrics(last_clusters, last_pairs, 0.95)
    warehouse.write({
        "linkage.clusters": clusters, "linkage.pairs": pairs,
        REDONE: pl.DataFrame({"record_key": ["a2", "a3", "b1", "b2", "b3", "b4"]}),
        CLUSTER_STATE: pl.DataFrame({"run_id": ["run2"], "mode": ["incremental"], "built_on_run_id": ["run1"]}),
        # c1's stored row is marked, so that keeping it (not counting it again) shows.
        "linkage.cluster_metrics": stored.with_columns(
            pl.when(pl.col("cluster_id") == "c1").then(pl.lit(0.5)).otherwise("weakest_edge").alias("weakest_edge")),
        METRICS_STATE: pl.DataFrame({"clustering_run_id": ["run1"], "threshold": [0.95]}),
    })
    state = warehouse.read(CLUSTER_STATE).row(0, named=True)
    # A clustering from before it named the persons gone: every person is counted again.
    assert _stored_metrics_built_on(warehouse, state) is None
    warehouse.write({GONE_CLUSTERS: pl.DataFrame({"cluster_id": ["a1"]})})  # as the clustering writes it
    assert _stored_metrics_built_on(warehouse, state) is None  # nor the persons made again
    warehouse.write({REMADE_CLUSTERS_TABLE: pl.DataFrame({"cluster_id": ["a2", "b1"]})})
    metrics, counted = _cluster_metrics_tonight(warehouse, _stored_metrics_built_on(warehouse, state), 0.95)
    assert counted.startswith("tonight for the 1 persons")
    assert metrics.select("cluster_id", "size", "edges", "weakest_edge").rows() == [
        ("b1", 4, 4, 0.96), ("c1", 3, 2, 0.5),  # a1 dissolved: its row is gone
    ]
    # Metrics of another clustering, or at another threshold, are counted again whole.
    warehouse.write({METRICS_STATE: pl.DataFrame({"clustering_run_id": ["run0"], "threshold": [0.95]})})
    whole, counted = _cluster_metrics_tonight(warehouse, _stored_metrics_built_on(warehouse, state), 0.95)
    assert counted == "tonight, all persons"
    assert whole.equals(cluster_metrics(clusters, pairs, 0.95))
    assert whole.filter(pl.col("cluster_id") == "c1")["weakest_edge"].item() == 0.97


def test_the_blocking_report_is_counted_again_only_when_the_population_or_the_rules_moved():
    last = {"rules_version": "v1", "records_changed_since": 0}
    # an incremental night that changed 4% of the records since the count: carried over
    assert blocking_recount_reason(last, "v1", "incremental", changed_since=400, records=10_000) is None
    assert blocking_recount_reason(last, "v1", "incremental", changed_since=500, records=10_000) == (
        "500 records changed since the count (at least 5%)")
    assert blocking_recount_reason(None, "v1", "incremental", 0, 10_000) == "no earlier count"
    assert blocking_recount_reason(last, "v1", "full", 0, 10_000) == "a full linkage night"
    assert blocking_recount_reason(last, "v2", "incremental", 0, 10_000) == "the rules changed"
