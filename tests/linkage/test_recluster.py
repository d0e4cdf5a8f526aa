"""Clustering of what changed (assets/linkage/recluster.py) over three generated nights, linked up
to `linkage/clusters`: each incremental night clusters only the components that changed records
or changed reviewer answers touch, and its clusters, components and split log equal a full
clustering of the same night. A reviewer's non-match given before night 2 splits a person that
night; on night 3 that split is kept, not recomputed."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.sources.contracts import CONTRACTS
from assets.standardise.delta import state_table
from assets.linkage.recluster import CLUSTER_STATE, PAIR_KEYS, components_in, constraint_table, plan_clustering
from assets.linkage.review import ANSWER_COLUMNS, pair_id
from assets.warehouse import FULL_REBUILD_TAG, Warehouse, run_resources, warehouse_in
from pipelines.definitions import ALL_ASSETS
from synthetic.nights import generate_night

PERSONS = 800
NIGHTS = 3
TABLES = ("linkage.clusters", "linkage.components", "linkage.cluster_splits", "linkage.sole_candidate_links",
          "linkage.cluster_constraints")
UP_TO_CLUSTERS = "*linkage/clusters"
FULL_REBUILD_CONFIG = {"ops": {"linkage__model": {"config": {"full_rebuild": True}}}}


def tables(warehouse: Warehouse) -> dict:
    out = {t: warehouse.read(t) for t in TABLES}
    out["state"] = warehouse.read(CLUSTER_STATE).row(0, named=True)
    return out


def write_non_match(data: Path, left: str, right: str) -> None:
    review = data / "review"
    review.mkdir(parents=True, exist_ok=True)
    pl.DataFrame([{
        "pair_id": pair_id(left, right), "record_key_l": left, "record_key_r": right, "answer": "non-match",
        "reviewer": "test", "answered_at": "2026-11-27T09:00:00+00:00",
    }], schema=ANSWER_COLUMNS, orient="row").write_csv(review / "answers.csv")


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("recluster")
    landing, data = root / "landing", root / "data"
    instance = dg.DagsterInstance.ephemeral()
    out = []
    for night in range(1, NIGHTS + 1):
        generate_night(landing, night, persons=PERSONS, nights=NIGHTS, change_share=0.02)
        assert dg.materialize(ALL_ASSETS, resources=run_resources(landing, data, "test-key"), instance=instance,
                              selection=UP_TO_CLUSTERS).success
        warehouse = warehouse_in(data)
        entry = {"night": night, **tables(warehouse), "changes": warehouse.read("linkage.record_changes")}
        if night > 1:  # the same night clustered in full, from a copy of the store before it
            full_data = root / f"full-{night}"
            shutil.copytree(root / f"before-{night}", full_data)
            # night 2 asks by the tag (the weekly schedule's way), night 3 by run config
            ask = {"tags": {FULL_REBUILD_TAG: "true"}} if night == 2 else {"run_config": FULL_REBUILD_CONFIG}
            assert dg.materialize(ALL_ASSETS, resources=run_resources(landing, full_data, "test-key"),
                                  instance=instance, selection=UP_TO_CLUSTERS, **ask).success
            full_store = warehouse_in(full_data)
            entry["full"] = {**tables(full_store), "staging_reasons": {
                source: full_store.read(state_table(source))["reason"][0] for source in CONTRACTS}}
        if night == 1:
            # A reviewer says the two records of a two-record person are two people.
            clusters = entry["linkage.clusters"]
            pair = (clusters.group_by("cluster_id").agg(pl.col("record_key").sort())
                    .filter(pl.col("record_key").list.len() == 2).sort("cluster_id")["record_key"][0].to_list())
            write_non_match(data, *pair)
            entry["answered"] = pair
        shutil.copytree(data, root / f"before-{night + 1}")
        out.append(entry)
    return out


def test_first_night_clusters_everything_and_later_nights_only_touched_components(nights):
    assert (nights[0]["state"]["mode"], nights[0]["state"]["reason"]) == ("full", "linkage scored every pair tonight")
    assert nights[0]["state"]["records_clustered"] == nights[0]["state"]["records"]
    for n in nights[1:]:
        assert (n["state"]["mode"], n["state"]["reason"]) == ("incremental", "unchanged components kept")
        assert 0 < n["state"]["records_clustered"] < n["state"]["records"] / 10
        assert n["full"]["state"]["mode"] == "full"
        # the tag and the run config both reach staging, not only linkage
        assert set(n["full"]["staging_reasons"].values()) == {"the run asks for a full rebuild"}, n["night"]


def test_incremental_clusters_equal_a_full_clustering(nights):
    for n in nights[1:]:
        for table in TABLES:
            inc, full = n[table], n["full"][table]
            assert inc.sort(inc.columns).equals(full.sort(full.columns)), f"night {n['night']}: {table}"
    # Sole-candidate links and the constraints are compared too; 800 persons of default noise give
    # no sole candidate (722 links among 1.3M records at 1M), so tests/linkage/test_sole_candidates.py
    # shows the plan clustering a pair again when it loses its standing.
    assert all((n["linkage.cluster_constraints"]["kind"] == "cannot").any() for n in nights[1:])


def test_a_reviewers_non_match_splits_that_night_and_the_split_is_kept(nights):
    left, right = nights[0]["answered"]
    for n in nights[1:]:
        clusters = dict(n["linkage.clusters"].iter_rows())
        assert clusters[left] != clusters[right]
        components = dict(n["linkage.components"].iter_rows())
        assert components[left] == components[right]  # still linked by the model: the answer split them
        split = n["linkage.cluster_splits"].filter(pl.col("cluster_id") == components[left])
        assert split.rows(named=True) == [{"cluster_id": components[left], "records": 2, "parts": 2,
                                           "reason": "holds a cannot-link pair"}]
    # Night 3: neither record nor the answer changed, so the pair was not clustered again.
    assert not {left, right} & set(nights[2]["changes"]["record_key"].to_list())


def test_plan_takes_whole_components_of_every_seed():
    previous_components = components_in(pl.DataFrame({
        "record_key": ["a", "b", "c", "d", "e", "f", "g"],
        "component_id": ["a", "a", "a", "d", "d", "f", "g"],
    }))
    constraints = constraint_table(pl.DataFrame({"record_key_l": ["g"], "record_key_r": ["f"]}), frozenset())
    previous_constraints = constraint_table(pl.DataFrame(schema={k: pl.String for k in PAIR_KEYS}), frozenset())
    state = {"fingerprint": None, "pairs_run_id": "r1", "model_id": "m"}
    linkage = {"mode": "incremental", "previous_run_id": "r1", "model_id": "m"}
    changes = pl.DataFrame({"record_key": ["b", "h"], "change": ["changed", "new"]})
    strong = pl.DataFrame({"record_key_l": ["h"], "record_key_r": ["e"]})  # a new record joins d's component
    from assets.linkage import recluster
    state["fingerprint"] = recluster.clustering_fingerprint()
    plan = plan_clustering(state, linkage, changes, strong, constraints, previous_constraints, previous_components)
    assert not plan.full
    # b's component (a, b, c), the new h, its partner e with e's component (d, e), the new must-link's f and g
    assert plan.redo.to_list() == ["a", "b", "c", "d", "e", "f", "g", "h"]
    quiet = plan_clustering(state, linkage, changes.clear(), strong.clear(), previous_constraints,
                            previous_constraints, previous_components)
    assert quiet.redo.to_list() == []
    assert plan_clustering(state, {**linkage, "previous_run_id": "r0"}, changes, strong, constraints,
                           previous_constraints, previous_components).full
    assert plan_clustering({**state, "fingerprint": "old"}, linkage, changes, strong, constraints,
                           previous_constraints, previous_components).reason == "the clustering code changed"
    # A pair a rekeyed record lost (d, f): both records' components are clustered again, and nothing else.
    lost = pl.DataFrame({"record_key_l": ["d"], "record_key_r": ["f"], "change": ["lost"]})
    rekeyed = plan_clustering(state, linkage, changes.clear(), strong.clear(), previous_constraints,
                              previous_constraints, previous_components, lost)
    assert rekeyed.redo.to_list() == ["d", "e", "f"]
