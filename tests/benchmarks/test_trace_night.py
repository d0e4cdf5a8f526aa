"""benchmarks.trace_night: the store's statements and Polars' collects timed, by the line of
assets/ that ran them, for the run only."""

import duckdb
import duckdb._seam as duckdb_seam
import polars as pl

from assets.sources.assets import stored_delivery
from assets.warehouse import Warehouse
from benchmarks.trace_night import Timings, timed


def test_statements_are_timed_by_the_assets_line_that_ran_them_and_answer_as_before(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    collect, connect, submit = pl.LazyFrame.collect, Warehouse.connect, duckdb_seam.submit
    timings = Timings()
    with timed(timings):
        warehouse.write({"raw.t": pl.DataFrame({"a": [1, 2, 3]})})
        assert warehouse.query("SELECT sum(a) AS s FROM raw.t")["s"][0] == 6
        assert stored_delivery(warehouse, "dtsen_individu") == (None, None)  # no such tables
        assert pl.LazyFrame({"a": [1]}).collect()["a"][0] == 1
        # A relation of a connection of its own (as Splink's) is timed where DuckDB runs it.
        assert duckdb.connect().sql("SELECT 41 + 1 AS x").fetchall() == [(42,)]
    kinds = [kind for _, kind, _, _ in timings.calls]
    assert kinds.count("collect") == 1 and kinds.count("sql") >= 4
    places = {where for _, kind, where, _ in timings.calls if kind == "sql"}
    assert "assets/warehouse.py replace_table" in places and "assets/warehouse.py query" in places
    # A helper of the store is named after the line of assets/ that called it.
    assert any(p.startswith("assets/sources/assets.py:") and p.endswith(" via table_exists") for p in places)
    assert any("CREATE OR REPLACE TABLE" in what for _, _, _, what in timings.calls)
    assert any("SELECT 41 + 1" in what for _, _, _, what in timings.calls)
    # Outside the block nothing is timed, and the methods are the libraries' own again.
    calls = len(timings.calls)
    warehouse.query("SELECT 1 AS one")
    assert len(timings.calls) == calls
    assert pl.LazyFrame.collect is collect and Warehouse.connect is connect and duckdb_seam.submit is submit
