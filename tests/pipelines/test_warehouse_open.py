"""The working store held open for a run: every call a cursor on one database, its cached blocks
dropped after a call that left many, the file free for another process once the run ends."""

import subprocess
import sys

import dagster as dg
import polars as pl
import pytest

import assets.warehouse as warehouse_module
from assets.warehouse import Warehouse

OPENS_FOR_WRITING = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"


def _another_process_can_write(path: str) -> bool:
    return subprocess.run([sys.executable, "-c", OPENS_FOR_WRITING, path], capture_output=True).returncode == 0


def test_a_run_holds_the_file_open_and_frees_it_at_its_end(tmp_path):
    path = str(tmp_path / "w.duckdb")
    warehouse = Warehouse(path=path)
    warehouse.write({"raw.t": pl.DataFrame({"id": [1, 2]})})
    assert _another_process_can_write(path)  # outside a run nothing holds it between calls

    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        assert warehouse.read("raw.t")["id"].to_list() == [1, 2]
        assert not _another_process_can_write(path)  # held between calls, as one writer
        with warehouse.transaction() as con:
            con.execute("INSERT INTO raw.t VALUES (3)")
        assert warehouse.read("raw.t")["id"].to_list() == [1, 2, 3]
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())
    assert _another_process_can_write(path)
    assert Warehouse(path=path).read("raw.t")["id"].to_list() == [1, 2, 3]  # committed to the file


@pytest.mark.parametrize("evict_above", [4_000_000, 1_000_000_000])
def test_the_blocks_a_call_read_are_not_kept_in_memory_after_it(tmp_path, monkeypatch, evict_above):
    # Dropped only when the call left more than EVICT_ABOVE_BYTES: a reset after every small call
    # cost 0.5 s of a night.
    monkeypatch.setattr(warehouse_module, "EVICT_ABOVE_BYTES", evict_above)
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    warehouse.write({"raw.t": pl.DataFrame({"id": range(3_000_000), "text": [f"value {i}" for i in range(3_000_000)]})})
    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        limit = warehouse.query("SELECT current_setting('memory_limit') AS m")["m"][0]
        with warehouse.connect() as con:
            assert con.sql("SELECT count(DISTINCT text) FROM raw.t").fetchall()[0][0] == 3_000_000
            held_inside = con.sql("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0]
        with warehouse.connect() as con:
            held_after = con.sql("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0]
        assert 8_000_000 < held_inside < 1_000_000_000  # the table's blocks, read by the call
        if evict_above < held_inside:
            assert held_after < held_inside / 4
        else:
            assert held_after > held_inside / 2
        assert warehouse.query("SELECT current_setting('memory_limit') AS m")["m"][0] == limit
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())


def test_release_memory_drops_what_a_call_left_below_the_threshold(tmp_path, monkeypatch):
    # Before Splink gets records the run's cached blocks go, however few the last call left.
    monkeypatch.setattr(warehouse_module, "EVICT_ABOVE_BYTES", 1_000_000_000)
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    warehouse.write({"raw.t": pl.DataFrame({"id": range(3_000_000), "text": [f"value {i}" for i in range(3_000_000)]})})
    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        assert warehouse.query("SELECT count(DISTINCT text) AS n FROM raw.t")["n"][0] == 3_000_000
        held = warehouse.query("SELECT sum(memory_usage_bytes) AS b FROM duckdb_memory()")["b"][0]
        assert held > 8_000_000  # kept: the call left less than the threshold
        warehouse.release_memory()
        assert warehouse.query("SELECT sum(memory_usage_bytes) AS b FROM duckdb_memory()")["b"][0] < held / 4
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())
