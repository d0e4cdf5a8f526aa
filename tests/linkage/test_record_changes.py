"""Which records a night scores again: new, changed and deleted records against last night's
hashes (assets/linkage/incremental.py, `linkage.record_changes`), worked out in DuckDB; and the
records whose capped blocking keys alone moved (rekeyed), which it does not."""

import duckdb
import polars as pl
import pytest

from assets.linkage.incremental import classify_records

SCHEMA = {"record_key": pl.String, "record_hash": pl.UInt64, "key_hash": pl.UInt64, "block_hash": pl.UInt64}
TONIGHT = "SELECT * FROM tonight"


@pytest.fixture
def con():
    with duckdb.connect() as con:
        yield con


def _hashes(con, table: str, rows: dict[str, int | tuple[int, ...]]) -> None:
    """rows: record key -> record hash, or (record hash, key hash[, block hash]); 0 where not given."""
    hashes = [(value if isinstance(value, tuple) else (value,)) + (0, 0) for value in rows.values()]
    frame = pl.DataFrame({"record_key": list(rows), "record_hash": [h[0] for h in hashes],
                          "key_hash": [h[1] for h in hashes], "block_hash": [h[2] for h in hashes]}, schema=SCHEMA)
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")


def test_records_are_new_changed_deleted_or_unchanged(con):
    _hashes(con, "tonight", {"p:3": 30, "p:1": 10, "p:2": 99, "p:5": 50})
    _hashes(con, "last_night", {"p:1": 10, "p:2": 20, "p:4": 40, "p:0": 1})
    delta = classify_records(con, TONIGHT, "last_night")
    assert sorted(delta.changes.rows()) == [("p:0", "deleted"), ("p:2", "changed"), ("p:3", "new"),
                                            ("p:4", "deleted"), ("p:5", "new")]
    assert delta.unchanged == 1
    assert sorted(delta.touched.to_list()) == ["p:2", "p:3", "p:5"]
    assert [delta.count(c) for c in ("new", "changed", "deleted")] == [2, 1, 2]
    # Tonight's hashes of what is new or changed: what the stored hashes take in their place.
    assert sorted(delta.touched_hashes.rows()) == [("p:2", 99, 0, 0), ("p:3", 30, 0, 0), ("p:5", 50, 0, 0)]
    # Two records deleted: they left their blocks.
    assert delta.blocks_left == 2


def test_a_record_whose_keys_alone_moved_is_rekeyed_not_changed(con):
    # p:1 keeps its values and its keys; p:2 keeps its values, its keys moved; p:3 changed both.
    _hashes(con, "tonight", {"p:1": (10, 1), "p:2": (20, 7), "p:3": (31, 7), "p:4": (40, 4)})
    _hashes(con, "last_night", {"p:1": (10, 1), "p:2": (20, 2), "p:3": (30, 3), "p:5": (50, 5)})
    for written in (None, "SELECT * FROM tonight WHERE record_key <> 'p:1'"):
        delta = classify_records(con, TONIGHT, "last_night", written)
        assert sorted(delta.changes.rows()) == [("p:2", "rekeyed"), ("p:3", "changed"), ("p:4", "new"),
                                                ("p:5", "deleted")]
        assert sorted(delta.touched.to_list()) == ["p:3", "p:4"]
        assert delta.rekeyed.to_list() == ["p:2"]
        # linkage.record_changes: what the clustering and the twins take as changed.
        assert sorted(delta.record_changes.rows()) == [("p:3", "changed"), ("p:4", "new"), ("p:5", "deleted")]
        assert delta.unchanged == 1
        # The stored hashes of the rekeyed record are tonight's too.
        assert sorted(delta.touched_hashes.rows()) == [("p:2", 20, 7, 0), ("p:3", 31, 7, 0), ("p:4", 40, 4, 0)]


def test_records_leave_their_blocks_when_deleted_or_changed_in_what_places_them(con):
    # p:2 changed in a value its blocks do not read (the same block hash); p:4 is new: the blocks
    # only grew. Then p:3 changes its region (another block hash), or p:1 is deleted.
    _hashes(con, "last_night", {"p:1": (10, 1, 100), "p:2": (20, 2, 200), "p:3": (30, 3, 300)})
    grown = {"p:1": (10, 1, 100), "p:2": (21, 2, 200), "p:3": (30, 3, 300), "p:4": (40, 4, 400)}
    _hashes(con, "grown", grown)
    _hashes(con, "moved", grown | {"p:3": (31, 3, 301)})
    _hashes(con, "deleted", {k: v for k, v in grown.items() if k != "p:1"})
    for table, left in (("grown", 0), ("moved", 1), ("deleted", 1)):
        assert classify_records(con, f"SELECT * FROM {table}", "last_night").blocks_left == left, table
        written = f"SELECT * FROM {table} WHERE record_key <> 'p:1'"
        assert classify_records(con, f"SELECT * FROM {table}", "last_night", written).blocks_left == left, table


def test_a_first_night_has_every_record_new(con):
    _hashes(con, "tonight", {"p:2": 2, "p:1": 1})
    delta = classify_records(con, TONIGHT, None)
    assert sorted(delta.changes.rows()) == [("p:1", "new"), ("p:2", "new")]
    assert delta.unchanged == 0
    assert sorted(delta.touched_hashes.rows()) == [("p:1", 1, 0, 0), ("p:2", 2, 0, 0)]
    assert delta.blocks_left == 0
    empty = classify_records(con, "SELECT * FROM tonight WHERE false", None)
    assert empty.changes.is_empty() and empty.changes.schema == {"record_key": pl.String, "change": pl.String}
    assert empty.unchanged == 0


def test_only_the_records_written_since_are_compared_and_the_result_is_the_same(con):
    # The generation that last wrote each record; last night's hashes were made at generation 5.
    frame = pl.DataFrame({"record_key": ["p:1", "p:2", "p:3", "p:5", "p:6"], "record_hash": [10, 99, 30, 50, 60], "key_hash": [0] * 5, "block_hash": [0] * 5,
                          "gen": [3, 6, 6, 7, 6]}, schema=SCHEMA | {"gen": pl.Int64})
    con.execute("CREATE TABLE tonight_all AS SELECT * FROM frame")
    _hashes(con, "last_night", {"p:1": 10, "p:2": 20, "p:4": 40, "p:0": 1, "p:6": 60})
    everything = "SELECT record_key, record_hash, key_hash, block_hash FROM tonight_all"
    written = "SELECT record_key, record_hash, key_hash, block_hash FROM tonight_all WHERE gen > 5"
    full = classify_records(con, everything, "last_night")
    scoped = classify_records(con, everything, "last_night", written)
    assert sorted(scoped.changes.rows()) == sorted(full.changes.rows()) == [
        ("p:0", "deleted"), ("p:2", "changed"), ("p:3", "new"), ("p:4", "deleted"), ("p:5", "new")]
    # p:6 was written again with its old hash: unchanged. p:1 was not written since: not compared.
    assert scoped.unchanged == full.unchanged == 2
    assert sorted(scoped.touched_hashes.rows()) == sorted(full.touched_hashes.rows())
    # A record not written since is taken as it was, whatever it holds now: the marks are the contract.
    con.execute("UPDATE tonight_all SET record_hash = 11 WHERE record_key = 'p:1'")
    assert ("p:1", "changed") not in classify_records(con, everything, "last_night", written).changes.rows()


def test_a_night_without_deleted_records_gives_the_same_classification_from_the_written_rows(con):
    # Nothing deleted: the counts say so and no record is called deleted; one deleted record (p:2
    # gone, p:9 new: the same number of records) is still found.
    frame = pl.DataFrame({"record_key": ["p:1", "p:2", "p:3", "p:9"], "record_hash": [10, 21, 30, 90], "key_hash": [0] * 4, "block_hash": [0] * 4,
                          "gen": [3, 6, 3, 6]}, schema=SCHEMA | {"gen": pl.Int64})
    con.execute("CREATE TABLE tonight_all AS SELECT * FROM frame")
    _hashes(con, "last_night", {"p:1": 10, "p:2": 20, "p:3": 30})
    everything = "SELECT record_key, record_hash, key_hash, block_hash FROM tonight_all"
    written = "SELECT record_key, record_hash, key_hash, block_hash FROM tonight_all WHERE gen > 5"
    scoped = classify_records(con, everything, "last_night", written)
    assert sorted(scoped.changes.rows()) == sorted(classify_records(con, everything, "last_night").changes.rows()) == [
        ("p:2", "changed"), ("p:9", "new")]
    con.execute("DELETE FROM tonight_all WHERE record_key = 'p:2'")
    con.execute("INSERT INTO tonight_all VALUES ('p:8', 80, 0, 0, 6)")
    swapped = classify_records(con, everything, "last_night", written)
    assert sorted(swapped.changes.rows()) == [("p:2", "deleted"), ("p:8", "new"), ("p:9", "new")]
    assert swapped.unchanged == 2
