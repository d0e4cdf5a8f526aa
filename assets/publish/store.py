"""The analysts' store: a DuckDB file and one Parquet file per table under `published/`, built in a
folder beside it and swapped in with `os.replace`. A reader that has the old file open keeps
reading the old version; a run that dies before the swap leaves the published store untouched."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

DATABASE_FILE = "padu.duckdb"
MANIFEST_FILE = "_manifest.json"

# Columns that must never reach the analysts' tables (contract section 3).
FORBIDDEN_COLUMNS = {
    "nik", "kk", "no_kk", "passport", "no_paspor", "no_hp", "nama", "name", "name_clean",
    "nama_lengkap", "nama_siswa", "alamat", "alamat_asal", "birth_date", "tanggal_lahir",
    "father_nik", "mother_nik", "guardian_nik", "nisn", "splp", "household_key",
}


class UnsafeColumnError(ValueError):
    pass


def _check_columns(tables: dict[str, pl.DataFrame]) -> None:
    for name, frame in tables.items():
        bad = FORBIDDEN_COLUMNS.intersection(c.lower() for c in frame.columns)
        if bad:
            raise UnsafeColumnError(f"published table {name} would hold identifying columns {sorted(bad)}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_tables(tables: dict[str, pl.DataFrame], published_dir: Path, run_id: str) -> dict:
    """Writes every table to a fresh DuckDB file and Parquet files, then swaps them in. Returns the
    manifest (run id, time, row counts)."""
    _check_columns(tables)
    published_dir.mkdir(parents=True, exist_ok=True)
    for leftover in published_dir.glob(".incoming-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from a run that died before its swap
    incoming = published_dir / f".incoming-{run_id}"
    incoming.mkdir()
    database = incoming / DATABASE_FILE
    con = duckdb.connect(str(database))
    try:
        for name, frame in tables.items():
            con.register("__table", frame.to_arrow())
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __table')
            con.unregister("__table")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    for name, frame in tables.items():
        frame.write_parquet(incoming / f"{name}.parquet")
    manifest = {
        "run_id": run_id,
        "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tables": {name: frame.height for name, frame in tables.items()},
    }
    (incoming / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    for path in incoming.iterdir():
        _fsync(path)
    # The database first: it is the unit analysts open; each Parquet file is swapped whole.
    os.replace(database, published_dir / DATABASE_FILE)
    for name in tables:
        os.replace(incoming / f"{name}.parquet", published_dir / f"{name}.parquet")
    os.replace(incoming / MANIFEST_FILE, published_dir / MANIFEST_FILE)
    shutil.rmtree(incoming, ignore_errors=True)
    return manifest


def read_published(published_dir: Path, table: str) -> pl.DataFrame | None:
    """The last published version of a table, from its Parquet file (never opens the DuckDB
    file, so a reader of ours can never block a writer)."""
    path = published_dir / f"{table}.parquet"
    return pl.read_parquet(path) if path.exists() else None
