"""Nights on which records' capped blocking keys move: the new and deleted records of a night push
blocks over their size limit or back under it, and the keys of the records already there move with
them (assets/standardise/block_keys.py). Such a record is not a changed one: it is not scored
again, but its pairs are checked where a rule reads a key (incremental.rekeyed_pairs). With a
limit of two records a block, most keys move at 1,500 persons (on the last night only P2MI delivers,
so that blocks only grow); each night is compared with a full
rebuild of the same data (pairs are kept from a probability of 1e-6 up, so that most pairs a key
lets through are stored ones)."""

from __future__ import annotations

import copy
import hashlib
import shutil

import dagster as dg
import polars as pl
import pytest

import assets.linkage.rules as rules_module
from assets.linkage.assets import REKEYED_PAIRS, TWINS
from assets.linkage.recluster import CLUSTER_STATE
from assets.linkage.rules import LinkageRules, load_rules
from assets.warehouse import FULL_REBUILD_TAG, run_resources, warehouse_in
from pipelines.definitions import ALL_ASSETS
from synthetic.nights import generate_night

PERSONS = 1500
NIGHTS = 4
# On the last night only P2MI delivers: new records and no deleted one, so the blocks only grow.
ONLY_P2MI = NIGHTS
CLUSTER_TABLES = ("linkage.clusters", "linkage.components", "linkage.cluster_splits")


def _linkage(data) -> dict:
    warehouse = warehouse_in(data)
    persons = pl.read_parquet(data / "published" / "person_records.parquet")
    groups = persons.group_by("person_id").agg(pl.concat_str("source", "source_record_id", separator=":"))
    return {
        "state": warehouse.read("linkage.state").row(0, named=True),
        "cluster_state": warehouse.read(CLUSTER_STATE).row(0, named=True),
        "changes": warehouse.read("linkage.record_changes"),
        "rekeyed_pairs": warehouse.read(REKEYED_PAIRS),
        "pairs": warehouse.read("linkage.pairs").sort("record_key_l", "record_key_r"),
        "record_hashes": warehouse.read("linkage.record_hashes").sort("record_key"),
        "twins": warehouse.read(TWINS),
        "clusters": {t: warehouse.read(t) for t in CLUSTER_TABLES},
        "persons": {frozenset(keys) for keys in groups.to_series(1).to_list()},
    }


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    rules = load_rules()
    raw = copy.deepcopy(rules.raw)
    raw["capped_block_keys"]["max_records"] = 2
    for spec in raw["capped_block_keys"]["keys"].values():
        spec.pop("max_records", None)
    # Pairs kept from a low probability up: most pairs a key lets through are stored, so that a key
    # that moves takes stored pairs away and brings unstored ones.
    raw["thresholds"]["predict_match_probability"] = 1e-6
    # Another rules version (hex, as the model store names models by it): a model of its own.
    small = LinkageRules(raw=raw, version_hash=hashlib.sha256(f"{rules.version_hash} caps 2".encode()).hexdigest()[:12])
    root = tmp_path_factory.mktemp("rekeyed")
    landing, data = root / "landing", root / "data"
    instance = dg.DagsterInstance.ephemeral()
    out = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rules_module, "_read_rules", lambda path: small)
        for night in range(1, NIGHTS + 1):
            generate_night(landing, night, persons=PERSONS, nights=NIGHTS, change_share=0.1)
            if night == ONLY_P2MI:
                for source in ("dtsen_individu", "sr_siswa"):
                    newest = max((landing / source).iterdir())
                    shutil.move(newest, root / f"held-{source}")
            full = None
            if night > 1:
                full_data = root / f"full-{night}"
                shutil.copytree(data, full_data)
                assert dg.materialize(ALL_ASSETS, resources=run_resources(landing, full_data, "test-key"),
                                      instance=instance, tags={FULL_REBUILD_TAG: "true"}).success
                full = _linkage(full_data)
            assert dg.materialize(ALL_ASSETS, resources=run_resources(landing, data, "test-key"),
                                  instance=instance).success
            out.append({"night": night, "tonight": _linkage(data), "full": full})
    return out


def test_records_whose_keys_alone_moved_are_neither_changed_nor_scored_again(nights):
    for n in nights[1:]:
        state, full = n["tonight"]["state"], n["full"]["state"]
        assert state["mode"] == "incremental" and state["records_rekeyed"] > 0, state
        # The full rebuild of the night tells the same records apart (and scores them all).
        assert (full["mode"], full["records_rekeyed"], full["records_changed"]) == (
            "full", state["records_rekeyed"], state["records_changed"])
        # Not among the changes the clustering and the twins take.
        assert set(n["tonight"]["changes"]["change"].to_list()) <= {"new", "changed", "deleted"}
    # (Whether a moved key adds a pair or takes one away is rare here, where most pairs of a block
    # are let through by other rules too: tests/linkage/test_blocking_partners.py has both.)


def test_a_night_on_which_blocks_only_grew_scores_no_rekeyed_pair_again(nights):
    # All sources deliver on nights 2 and 3 (DTSEN deletes records); P2MI alone on the last.
    left = [n["tonight"]["state"]["records_left_blocks"] for n in nights[1:]]
    assert all(count > 0 for count in left[:-1]) and left[-1] == 0, left
    last = nights[-1]["tonight"]["state"]
    assert last["records_rekeyed"] > 0 and last["records_deleted"] == 0
    assert "added" not in nights[-1]["tonight"]["rekeyed_pairs"]["change"].to_list()


def test_a_rekeyed_records_pairs_are_a_full_rebuilds(nights):
    for n in nights[1:]:
        inc, full = n["tonight"], n["full"]
        keys = ["record_key_l", "record_key_r"]
        assert inc["pairs"].select(keys).equals(full["pairs"].select(keys)), f"night {n['night']}"
        assert (inc["pairs"]["match_weight"] - full["pairs"]["match_weight"]).abs().max() < 1e-9
        stored = set(inc["pairs"].select(keys).iter_rows())
        changed = set(inc["changes"]["record_key"].to_list())
        for left, right, change in inc["rekeyed_pairs"].iter_rows():
            # An added pair is a stored pair tonight, a lost one is not; neither has a changed record.
            assert ((left, right) in stored) == (change == "added")
            assert not {left, right} & changed
        assert inc["record_hashes"].equals(full["record_hashes"])


def test_a_night_with_rekeyed_records_clusters_and_ids_as_a_full_rebuild(nights):
    for n in nights[1:]:
        inc, full = n["tonight"], n["full"]
        assert inc["cluster_state"]["mode"] == "incremental"
        assert inc["cluster_state"]["records_clustered"] < inc["cluster_state"]["records"]
        for table in CLUSTER_TABLES:
            a, b = inc["clusters"][table], full["clusters"][table]
            assert a.sort(a.columns).equals(b.sort(b.columns)), f"night {n['night']}: {table}"
        assert inc["twins"].equals(full["twins"])
        assert inc["persons"] == full["persons"]
