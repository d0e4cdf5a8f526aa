"""A delivery already ingested, byte for byte, is not read or staged again: DTSEN and Sekolah Rakyat
deliver far less often than the nightly run. A new delivery, a change of the reading code or a
full rebuild reads it again."""

from __future__ import annotations

import shutil
from datetime import date

import dagster as dg
import pytest

import assets.sources.assets as raw_assets
import assets.sources.ingest as ingest
from assets.sources.contracts import CONTRACTS
from assets.sources.deliveries import delivery_digest as digest, scan_source
from assets.standardise.delta import state_table
from assets.warehouse import FULL_REBUILD_TAG, run_resources, warehouse_in
from pipelines.definitions import ALL_ASSETS
from synthetic.generator import generate_deliveries

SOURCE = "dtsen_individu"


def _run(landing, data, instance, **kwargs):
    result = dg.materialize(ALL_ASSETS, resources=run_resources(landing, data, "test-key"), instance=instance,
                            selection=[f"raw/{s}" for s in CONTRACTS] + [f"staging/{s}" for s in CONTRACTS],
                            **kwargs)
    assert result.success
    return result


def _metadata(result, key: list[str], name: str):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return event.materialization.metadata[name].value


@pytest.fixture()
def landing(tmp_path):
    landing = tmp_path / "landing"
    generate_deliveries(landing, persons=300, progress=False)
    return landing


def test_the_delivery_already_ingested_is_kept_and_a_new_one_is_read(tmp_path, landing):
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    first = _run(landing, data, instance)
    warehouse = warehouse_in(data)
    raw_before = warehouse.read(f"raw.{SOURCE}")
    staged_before = warehouse.read(f"staging.{SOURCE}")
    assert _metadata(first, ["raw", SOURCE], "ingest") == "read tonight"

    second = _run(landing, data, instance)
    for source in CONTRACTS:
        assert _metadata(second, ["raw", source], "ingest") == "the delivery already ingested: kept"
        # the counts still come from the stored tables, and the checks still pass on them
        assert _metadata(second, ["raw", source], "dagster/row_count") == \
            _metadata(first, ["raw", source], "dagster/row_count")
        assert _metadata(second, ["raw", source], "quarantined") == _metadata(first, ["raw", source], "quarantined")
        state = warehouse.read(state_table(source)).row(0, named=True)
        assert (state["reason"], state["rows_staged"]) == ("the delivery staged before: kept", 0)
        assert state["rows"] == _metadata(first, ["staging", source], "dagster/row_count")
    assert all(check.passed for check in second.get_asset_check_evaluations())
    assert warehouse.read(f"raw.{SOURCE}").equals(raw_before)
    assert warehouse.read(f"staging.{SOURCE}").equals(staged_before)

    # The same files under a newer delivery date are a new delivery: read, and staged row by row
    # against last night (every row's content is the same, so none is staged again).
    shutil.copytree(landing / SOURCE / "2026-11-27", landing / SOURCE / "2026-11-28")
    third = _run(landing, data, instance)
    assert _metadata(third, ["raw", SOURCE], "ingest") == "read tonight"
    assert _metadata(third, ["raw", "p2mi_kasus"], "ingest") == "the delivery already ingested: kept"
    assert warehouse.read(f"raw.{SOURCE}")["_delivery_date"].unique().to_list() == [date(2026, 11, 28)]
    state = warehouse.read(state_table(SOURCE)).row(0, named=True)
    assert (state["reason"], state["rows_staged"]) == ("unchanged rows kept", 0)


def test_new_reading_code_or_a_full_rebuild_reads_the_same_delivery_again(tmp_path, landing, monkeypatch):
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    _run(landing, data, instance)
    rebuilt = _run(landing, data, instance, tags={FULL_REBUILD_TAG: "true"})
    assert _metadata(rebuilt, ["raw", SOURCE], "ingest") == "read tonight"
    assert _metadata(rebuilt, ["staging", SOURCE], "staging_reason") == "the run asks for a full rebuild"

    monkeypatch.setattr(raw_assets, "ingest_fingerprint", lambda: "another reader")
    changed_code = _run(landing, data, instance)
    assert _metadata(changed_code, ["raw", SOURCE], "ingest") == "read tonight"
    # a new ingest of the same bytes: staging compares the rows (none changed) instead of keeping
    assert _metadata(changed_code, ["staging", SOURCE], "staging_reason") == "unchanged rows kept"
    assert _metadata(_run(landing, data, instance), ["raw", SOURCE], "ingest") == \
        "the delivery already ingested: kept"


def _ingested_and_digests_watched(tmp_path, landing, monkeypatch):
    """A store that ingested the landing once, and the list of the delivery labels digested since."""
    data, instance = tmp_path / "data", dg.DagsterInstance.ephemeral()
    _run(landing, data, instance)
    hashed = []
    monkeypatch.setattr(ingest, "delivery_digest", lambda delivery: hashed.append(delivery.label) or digest(delivery))
    return data, instance, hashed


def test_files_as_they_were_are_not_hashed_again_and_a_file_written_again_is(tmp_path, landing, monkeypatch):
    data, instance, hashed = _ingested_and_digests_watched(tmp_path, landing, monkeypatch)
    kept = _run(landing, data, instance)
    assert hashed == []  # every file has the name, size and times of the delivery ingested
    assert _metadata(kept, ["raw", SOURCE], "ingest") == "the delivery already ingested: kept"

    # One value written over in place, the file's size unchanged: its times are new, so the files
    # are hashed, and the delivery, no longer the one ingested, is read.
    [part, *_] = sorted((landing / SOURCE / "2026-11-27").glob("*.csv"))
    text = part.read_bytes()
    digit = text.index(b"3", text.index(b"\n") + 1)
    part.write_bytes(text[:digit] + b"4" + text[digit + 1:])
    changed = _run(landing, data, instance)
    assert hashed == [f"{SOURCE}/2026-11-27"]
    assert _metadata(changed, ["raw", SOURCE], "ingest") == "read tonight"


def test_a_new_deliverys_files_are_digested_once_beside_their_reading(tmp_path, landing, monkeypatch):
    data, instance, hashed = _ingested_and_digests_watched(tmp_path, landing, monkeypatch)
    # The same files in a new folder: another delivery, whose label is digested with its files.
    shutil.copytree(landing / SOURCE / "2026-11-27", landing / SOURCE / "2026-11-28")
    new = _run(landing, data, instance)
    assert _metadata(new, ["raw", SOURCE], "ingest") == "read tonight"
    assert hashed == [f"{SOURCE}/2026-11-28"]  # once, with the reading
    [delivery, *_] = scan_source(landing, SOURCE)[0]
    assert delivery.label == f"{SOURCE}/2026-11-28"
    assert raw_assets.stored_delivery(warehouse_in(data), SOURCE)[0] == digest(delivery)
    kept = _run(landing, data, instance)
    assert _metadata(kept, ["raw", SOURCE], "ingest") == "the delivery already ingested: kept"
    assert hashed == [f"{SOURCE}/2026-11-28"]  # its stamp stands for the digest made with the reading
