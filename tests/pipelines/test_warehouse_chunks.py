"""The warehouse's chunked read and write: what a stage that streams its rows relies on."""

import polars as pl
import pytest

from assets.warehouse import Warehouse, sync_rows


def test_a_table_read_in_chunks_and_written_in_chunks_is_the_same_table(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    rows = pl.DataFrame({"id": range(10_500), "text": [f"v{i}" if i % 7 else None for i in range(10_500)]})
    warehouse.write({"raw.t": rows})
    chunks = list(warehouse.read_chunks("raw.t", 4_000))
    assert [c.height for c in chunks] == [4_000, 4_000, 2_500]
    written = warehouse.write_chunks("staging.t", (c.with_columns(pl.col("text").str.to_uppercase()) for c in chunks))
    assert written == 10_500
    back = warehouse.read("staging.t").sort("id")
    assert back.equals(rows.with_columns(pl.col("text").str.to_uppercase()))


def test_frames_have_the_size_asked_for_not_the_database_s_batch_size(tmp_path):
    # DuckDB hands out batches of about 123,000 rows whatever size is asked for.
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    warehouse.write({"raw.t": pl.DataFrame({"id": range(400_000)})})
    chunks = list(warehouse.read_chunks("raw.t", 300_000))
    assert [c.height for c in chunks] == [300_000, 100_000]
    assert pl.concat(chunks)["id"].to_list() == list(range(400_000))


def test_an_empty_table_still_gives_one_frame_with_its_columns(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    warehouse.write({"raw.t": pl.DataFrame(schema={"id": pl.Int64, "text": pl.String})})
    chunks = list(warehouse.read_chunks("raw.t", 100))
    assert [c.height for c in chunks] == [0] and chunks[0].columns == ["id", "text"]
    assert warehouse.write_chunks("staging.t", chunks) == 0
    assert warehouse.read("staging.t").columns == ["id", "text"]


def test_a_first_chunk_with_a_column_null_throughout_still_takes_text_later(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    frames = [pl.DataFrame({"id": [1], "text": [None]}), pl.DataFrame({"id": [2], "text": ["x"]})]
    warehouse.write_chunks("staging.t", iter(frames))
    assert warehouse.read("staging.t").sort("id")["text"].to_list() == [None, "x"]


def test_a_failure_midway_leaves_the_previous_table_whole(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    warehouse.write({"staging.t": pl.DataFrame({"id": [1, 2, 3]})})

    def frames():
        yield pl.DataFrame({"id": [10]})
        raise RuntimeError("killed in the middle")

    with pytest.raises(RuntimeError):
        warehouse.write_chunks("staging.t", frames())
    assert warehouse.read("staging.t")["id"].to_list() == [1, 2, 3]


def test_rows_synced_where_they_stand_equal_the_frame(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    last_night = pl.DataFrame({"h": [1, 2, 3, 4], "text": ["a", "b", "c", "d"], "row": [1, 2, 3, 4]})
    warehouse.write({"raw.t": last_night})
    # 2 is gone, 5 is new, the others moved rows; the frame's order is not the table's
    tonight = pl.DataFrame({"h": [5, 4, 3, 1], "text": ["e", "d", "c", "a"], "row": [1, 2, 3, 4]})
    with warehouse.transaction() as con:
        assert sync_rows(con, "raw.t", tonight, ["h"], ["row"])
    assert warehouse.read("raw.t").sort("h").equals(tonight.sort("h"))
    # Other columns or types: nothing is touched, and the caller writes the table whole.
    with warehouse.transaction() as con:
        assert not sync_rows(con, "raw.t", tonight.with_columns(pl.col("row").cast(pl.Int32)), ["h"], ["row"])
        assert not sync_rows(con, "raw.t", tonight.with_columns(pl.lit("x").alias("extra")), ["h"], ["row"])
        assert not sync_rows(con, "raw.absent", tonight, ["h"], ["row"])
    assert warehouse.read("raw.t").sort("h").equals(tonight.sort("h"))
