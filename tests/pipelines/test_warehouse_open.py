"""The working store held open for a run: every call a cursor on one database, its cached blocks
kept from call to call until Splink needs the memory, the file free for another process once the
run ends."""

import subprocess
import sys

import dagster as dg
import duckdb
import polars as pl

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


def test_the_blocks_a_call_read_stay_cached_for_the_next_call_until_released(tmp_path):
    # A night's steps read the same tables one after the other: the blocks stay in memory from
    # call to call (dropping them after each large call cost an incremental night 0.4 s), and go
    # only before Splink gets records.
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    warehouse.write({"raw.t": pl.DataFrame({"id": range(3_000_000), "text": [f"value {i}" for i in range(3_000_000)]})})
    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        limit = warehouse.query("SELECT current_setting('memory_limit') AS m")["m"][0]
        with warehouse.connect() as con:
            assert con.sql("SELECT count(DISTINCT text) FROM raw.t").fetchall()[0][0] == 3_000_000
            held_inside = con.sql("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0]
        held_after = warehouse.query("SELECT sum(memory_usage_bytes) AS b FROM duckdb_memory()")["b"][0]
        assert 8_000_000 < held_inside < 1_000_000_000  # the table's blocks, read by the call
        assert held_after > held_inside / 2  # kept for the next call
        warehouse.release_memory()
        assert warehouse.query("SELECT sum(memory_usage_bytes) AS b FROM duckdb_memory()")["b"][0] < held_inside / 4
        assert warehouse.query("SELECT current_setting('memory_limit') AS m")["m"][0] == limit
        with warehouse.transaction() as con:  # released while no call is open; a call inside keeps them
            con.execute("SELECT count(DISTINCT text) FROM raw.t").fetchall()
            warehouse.release_memory()
            assert con.sql("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0] > held_inside / 2
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())


def _row_group_blocks(con, table: str) -> dict[int, set[int]]:
    rows = con.sql(f"SELECT row_group_id, block_id FROM pragma_storage_info('{table}') WHERE block_id >= 0").fetchall()
    blocks: dict[int, set[int]] = {}
    for group, block in rows:
        blocks.setdefault(group, set()).add(block)
    return blocks


def test_a_night_s_checkpoint_leaves_the_row_groups_it_did_not_change_where_they_are(tmp_path):
    # A table written whole from two parts (a delivery's Excel and CSV files) can start with a
    # part-full row group. DuckDB's vacuum would merge it with the others at the first checkpoint
    # after any change, rewriting the whole table for one new row (1.05 s for the 1M-person raw
    # placements). The layout is made with vacuum tasks off as well: else DuckDB may merge it at the
    # checkpoint that closes this connection, before the night the test is about.
    path = str(tmp_path / "w.duckdb")
    parts = [pl.DataFrame({"id": range(start, start + n), "name": [f"nama {i % 7919}" for i in range(start, start + n)]})
             for start, n in ((0, 50_000), (50_000, 250_000))]
    with duckdb.connect(path, config={"max_vacuum_tasks": 0}) as con:
        con.register("parts", pl.concat(parts, rechunk=False).to_arrow())
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT * FROM parts")
    warehouse = Warehouse(path=path)
    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        with warehouse.connect() as con:
            sizes = con.sql("SELECT row_group_id, max(count) FROM (SELECT row_group_id, column_id, sum(count) AS count "
                            "FROM pragma_storage_info('raw.t') WHERE segment_type <> 'VALIDITY' GROUP BY ALL) "
                            "GROUP BY ALL ORDER BY 1").fetchall()
            assert [n for _, n in sizes] == [50_000, 122_880, 122_880, 4_240]  # mergeable into three
            before = _row_group_blocks(con, "raw.t")
        with warehouse.transaction() as con:
            con.execute("INSERT INTO raw.t VALUES (300000, 'nama baru')")
        with warehouse.connect() as con:
            con.execute("CHECKPOINT")
            after = _row_group_blocks(con, "raw.t")
            assert con.sql("SELECT count(*), max(id) FROM raw.t").fetchall() == [(300_001, 300_000)]
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())
    assert all(after[group] == before[group] for group in before)  # the four written row groups stay put
    assert len(after) == 5  # and the new row has a row group of its own
