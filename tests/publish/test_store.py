"""The published store: atomic swap, readers keep the old version, no identifying columns."""

from __future__ import annotations

import json
import os
import stat

import duckdb
import polars as pl
import pytest

from assets.publish.pseudonym import MissingPseudonymKey, resolve_key, token, token_table
from assets.publish.store import (
    MANIFEST_FILE, PUBLISHED, VERSIONS_DIR, RowChanges, UnsafeColumnError, publish_changes, publish_tables,
    read_published,
)


def test_publish_swaps_whole_database_and_an_open_reader_keeps_the_old_version(tmp_path):
    published = tmp_path / "published"
    publish_tables({"persons": pl.DataFrame({"person_id": ["P1"]})}, published, "run1")
    reader = duckdb.connect(str(published / "padu.duckdb"), read_only=True)
    publish_tables({"persons": pl.DataFrame({"person_id": ["P1", "P2"]})}, published, "run2")
    assert reader.execute("SELECT count(*) FROM persons").fetchall() == [(1,)]
    reader.close()
    fresh = duckdb.connect(str(published / "padu.duckdb"), read_only=True)
    assert fresh.execute("SELECT count(*) FROM persons").fetchall() == [(2,)]
    fresh.close()
    assert read_published(published, "persons").height == 2
    assert not list((tmp_path / VERSIONS_DIR).glob(".incoming-*"))


def test_published_is_a_link_to_one_complete_version_and_old_versions_go(tmp_path):
    published = tmp_path / "published"
    for n in range(1, 5):
        manifest = publish_tables({"persons": pl.DataFrame({"person_id": [f"P{n}"]})}, published, f"run{n}")
    assert published.is_symlink()
    assert published.resolve() == (tmp_path / VERSIONS_DIR / manifest["version"]).resolve()
    assert json.loads((published / MANIFEST_FILE).read_text())["run_id"] == "run4"
    # The current version and the one before it (a reader may still be on it); no older ones.
    versions = sorted(p.name for p in (tmp_path / VERSIONS_DIR).iterdir())
    assert len(versions) == 2 and manifest["version"] in versions
    assert {"padu.duckdb", "persons.parquet", MANIFEST_FILE} == {p.name for p in published.iterdir()}


def test_leftovers_of_a_killed_publish_are_removed_and_a_plain_folder_is_adopted(tmp_path):
    published = tmp_path / "published"
    published.mkdir()  # a store published before versioned publishing
    pl.DataFrame({"person_id": ["OLD"]}).write_parquet(published / "persons.parquet")
    versions = tmp_path / VERSIONS_DIR
    (versions / ".incoming-deadrun").mkdir(parents=True)
    (versions / ".incoming-deadrun" / "padu.duckdb").write_bytes(b"half written")
    (tmp_path / ".published.link-deadrun").symlink_to("nowhere")
    publish_tables({"persons": pl.DataFrame({"person_id": ["NEW"]})}, published, "run1")
    assert read_published(published, "persons")["person_id"].to_list() == ["NEW"]
    assert not list(versions.glob(".incoming-*")) and not list(tmp_path.glob(".published.link-*"))
    legacy = [p for p in versions.iterdir() if p.name.startswith("legacy-")]
    assert len(legacy) == 1  # the old store is kept as the previous version
    assert pl.read_parquet(legacy[0] / "persons.parquet")["person_id"].to_list() == ["OLD"]


def test_identifying_columns_are_refused(tmp_path):
    with pytest.raises(UnsafeColumnError, match="nik"):
        publish_tables({"persons": pl.DataFrame({"person_id": ["P1"], "nik": ["3212014107850001"]})},
                       tmp_path / "published", "run1")
    assert not (tmp_path / "published").exists()


def test_tokens_are_keyed_hmac_and_stable(tmp_path):
    values = pl.Series("nik", ["3212014107850001", None, "3212014107850001", "3212014107850002"])
    table = token_table(values, b"k1", "nik", "nik_token").sort("nik")
    # Each distinct value once, nulls left out; the same value always gets the same token.
    assert table.rows() == [("3212014107850001", token(b"k1", "nik", "3212014107850001")),
                            ("3212014107850002", token(b"k1", "nik", "3212014107850002"))]
    first = table["nik_token"][0]
    assert len(first) == 32 and "3212014107850001" not in first and first != table["nik_token"][1]
    assert token(b"k2", "nik", "3212014107850001") != first  # another key, another token


def test_demo_key_is_owner_only_and_production_refuses_without_key(tmp_path):
    key = resolve_key("", tmp_path, production=False)
    key_file = tmp_path / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert resolve_key("", tmp_path, production=False) == key  # created once, then reused
    assert resolve_key("configured", tmp_path, production=True) == b"configured"
    with pytest.raises(MissingPseudonymKey):
        resolve_key("", tmp_path / "other", production=True)


def _patch_night(published, run_id: str, tonight: pl.DataFrame) -> dict:
    """publish_changes as the publish step calls it: P2 is touched, its row replaced by `tonight`'s
    (a working store in memory), and run_info written whole."""
    con = duckdb.connect()
    con.register("__tonight", tonight.to_arrow())
    con.execute("CREATE TABLE touched AS SELECT 'P2' AS person_id")
    con.execute("CREATE TABLE tonight AS SELECT * FROM __tonight")

    def update(c):
        c.execute(f"CREATE OR REPLACE TABLE {PUBLISHED}.run_info AS SELECT '{run_id}' AS run_id")

    changes = {"persons": RowChanges("person_id", "SELECT person_id FROM touched", "SELECT * FROM tonight")}
    try:
        return publish_changes(con, published, run_id, update, ["persons", "run_info"], changes)
    finally:
        con.close()


def test_a_patched_parquet_file_is_its_table_row_for_row_or_written_again_from_it(tmp_path):
    published = tmp_path / "published"
    first = pl.DataFrame({"person_id": ["P1", "P2", "P3"], "desil": [1, 2, 3]})
    publish_tables({"persons": first, "run_info": pl.DataFrame({"run_id": ["run1"]})}, published, "run1")
    tonight = pl.DataFrame({"person_id": ["P2"], "desil": [5]})

    def both(table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        with duckdb.connect(str(published / "padu.duckdb"), read_only=True) as reader:
            return read_published(published, table), reader.sql(f"SELECT * FROM {table}").pl()

    # The file patched on its own thread from the last version's file and tonight's rows.
    manifest = _patch_night(published, "run2", tonight)
    assert manifest["parquet_patched"] == ["persons"] and manifest["tables"] == {"run_info": 1, "persons": 3}
    parquet, database = both("persons")
    assert parquet.equals(database) and parquet.rows() == [("P1", 1), ("P3", 3), ("P2", 5)]
    assert read_published(published, "run_info")["run_id"].to_list() == ["run2"]
    # A current version whose file disagrees with its table (a row too many): the patched file
    # counts one row more than tonight's table, and is written again from the table.
    pl.concat([parquet, pl.DataFrame({"person_id": ["P9"], "desil": [9]})]).write_parquet(
        published / "persons.parquet")
    manifest = _patch_night(published, "run3", tonight)
    assert manifest["parquet_patched"] == [] and manifest["tables"]["persons"] == 3
    parquet, database = both("persons")
    assert parquet.equals(database)
    # A change that fails (tonight's rows do not fit the table) while the file is being patched:
    # nothing is swapped in, and the version in place stays.
    with pytest.raises(duckdb.Error):
        _patch_night(published, "run4", tonight.with_columns(extra=pl.lit("x")))
    assert read_published(published, "run_info")["run_id"].to_list() == ["run3"]
    assert both("persons")[0].equals(parquet)
