"""The resources every asset uses: where the files are (`PaduSettings`) and the working DuckDB
store (`Warehouse`), which writes whole tables in one transaction and holds the file open only
while a run uses it (another process holding it would block the next writer)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow as pa
from pydantic import PrivateAttr

from assets.linkage.backend import LinkageBackend
from assets.publish.pseudonym import MissingPseudonymKey

# Tags every run gets, so that a run whose process was killed can be told from one still going.
RUN_PID_TAG = "padu/pid"
RUN_HOST_TAG = "padu/host"
# A run with this tag set to "true" stages and links everything again (the weekly schedule sets it).
FULL_REBUILD_TAG = "padu/full_rebuild"


def run_tag_set(context: dg.AssetExecutionContext, name: str) -> bool:
    """Whether the run sets tag `name` to true (also 1 or yes, in any case)."""
    return str(context.run.tags.get(name, "")).lower() in {"1", "true", "yes"}


def full_rebuild_requested(context: dg.AssetExecutionContext) -> bool:
    """Whether the run asks for a full rebuild: the tag `padu/full_rebuild` (the weekly schedule
    sets it), or the run config `ops: {linkage__model: {config: {full_rebuild: true}}}`. Either
    one makes every step that keeps last night's work (ingest, staging, linkage, clustering,
    persons, the blocking report) compute it all again."""
    if run_tag_set(context, FULL_REBUILD_TAG):
        return True
    model_config = (context.run.run_config or {}).get("ops", {}).get("linkage__model", {}).get("config") or {}
    return bool(model_config.get("full_rebuild"))


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether a table (or view) `schema.name` is there. From DuckDB's own catalog functions, not
    the information schema, whose views are built over every catalog entry: 0.8 ms a look-up
    against 1.7 ms in the 1M store, where a night looks about 50 times."""
    schema, name = table.split(".")
    return bool(con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2 "
        "UNION ALL SELECT 1 FROM duckdb_views() WHERE schema_name = $1 AND view_name = $2)", [schema, name]
    ).fetchall()[0][0])


class PaduSettings(dg.ConfigurableResource):
    """Paths and limits of contract section 4; `pipelines.resources` fills them from the
    environment."""

    landing_dir: str = "data/landing"
    data_dir: str = "data"
    max_quarantine_share: float = 0.25
    pseudonym_key: str = ""
    production: bool = False
    # Deliveries older than this many days are deleted from the landing folder after a good run
    # (never the one in use); None keeps every delivery.
    retention_days: int | None = None
    # Where Splink trains, scores and clusters: `duckdb` (in this process) or `spark`
    # (docs/scaling.md). The Spark master URL and the scratch folder of Splink's intermediate
    # tables (default `<data_dir>/spark/checkpoints`; on a cluster, storage every executor reaches).
    linkage_backend: str = "duckdb"
    spark_master: str = "local[2]"
    spark_checkpoint_dir: str = ""
    # DuckDB's memory limit for Splink's work; past it DuckDB spills to the working store instead
    # of growing. 2 GB keeps a 1M-person night under 4 GB on this 2-core machine at the same
    # speed (README, benchmark); empty: DuckDB's default, 80% of RAM.
    linkage_memory_limit: str = "2GB"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.run
        if run is None:
            return  # a sensor or schedule evaluation, not a run
        # Before any step reads a delivery: production never runs on an improvised key.
        if self.production and not self.pseudonym_key:
            raise MissingPseudonymKey(
                "PADU_ENV=production and PADU_PSEUDONYM_KEY is not set: refusing to run "
                "(nothing was read or written)"
            )
        if context.instance is not None:
            context.instance.add_run_tags(
                run.run_id, {RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: socket.gethostname()}
            )

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def published_path(self) -> Path:
        return self.data_path / "published"

    @property
    def models_path(self) -> Path:
        return self.data_path / "models"

    @property
    def reports_path(self) -> Path:
        return self.data_path / "reports"

    @property
    def backend(self) -> LinkageBackend:
        checkpoint_dir = self.spark_checkpoint_dir or str((self.data_path / "spark" / "checkpoints").resolve())
        return LinkageBackend(name=self.linkage_backend, spark_master=self.spark_master,
                              checkpoint_dir=checkpoint_dir, spill_dir=str(self.data_path / "tmp" / "duckdb"),
                              memory_limit=self.linkage_memory_limit or None)

    @property
    def truth_file(self) -> Path:
        return self.landing_path / "_truth" / "person_truth.csv"


def _quote(table: str) -> str:
    return ".".join(f'"{part}"' for part in table.split("."))


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """`name` (schema.table) replaced by `frame`, its schema created if need be."""
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{name.split(".")[0]}"')
    con.register("__incoming", frame.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {_quote(name)} AS SELECT * FROM __incoming")
    con.unregister("__incoming")


def insert_rows(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """The rows of `frame` appended to table `name` (schema.table), matched by column name."""
    con.register("__incoming", frame.to_arrow())
    con.execute(f"INSERT INTO {_quote(name)} BY NAME SELECT * FROM __incoming")
    con.unregister("__incoming")


def replace_rows(con: duckdb.DuckDBPyConnection, name: str, key: str, keys: pl.Series, frame: pl.DataFrame) -> None:
    """The rows of table `name` whose `key` is one of `keys` replaced by `frame`'s rows (by column
    name), the others untouched."""
    con.register("__keys", pl.DataFrame({key: keys}).to_arrow())
    try:
        con.execute(f'DELETE FROM {_quote(name)} WHERE "{key}" IN (SELECT "{key}" FROM __keys)')
    finally:
        con.unregister("__keys")
    insert_rows(con, name, frame)


def sync_rows(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, keys: list[str],
              refreshed: list[str]) -> bool:
    """Makes table `name` hold the rows of `frame` where it stands, when both have the same columns
    and types, and returns True (False, touching nothing, when they differ): rows whose `keys`
    are not in `frame` are deleted, the others take `frame`'s `refreshed` columns, and `frame`'s
    rows whose keys are not in the table are inserted. `keys` must be unique on both sides. The
    table's row order is then not `frame`'s. Where few rows are new (a nightly full snapshot),
    this writes a fraction of what replacing the table does: a million raw DTSEN rows took 1.0 s
    to write whole."""
    if not table_exists(con, name):
        return False
    con.register("__incoming", frame.to_arrow())
    try:
        stored = con.sql(f"SELECT * FROM {_quote(name)} LIMIT 0")
        incoming = con.sql("SELECT * FROM __incoming LIMIT 0")
        if dict(zip(stored.columns, map(str, stored.types))) != dict(zip(incoming.columns, map(str, incoming.types))):
            return False
        same = " AND ".join(f't."{k}" = i."{k}"' for k in keys)
        con.execute(f"DELETE FROM {_quote(name)} WHERE rowid IN "
                    f"(SELECT t.rowid FROM {_quote(name)} t ANTI JOIN __incoming i ON {same})")
        if refreshed:
            updates = ", ".join(f'"{c}" = i."{c}"' for c in refreshed)
            con.execute(f"UPDATE {_quote(name)} t SET {updates} FROM __incoming i WHERE {same}")
        con.execute(f"INSERT INTO {_quote(name)} BY NAME SELECT i.* FROM __incoming i "
                    f"ANTI JOIN {_quote(name)} t ON {same}")
        return True
    finally:
        con.unregister("__incoming")


# DuckDB settings of the working store, and of the published store a run attaches to it.
# No vacuum tasks: at a checkpoint DuckDB otherwise merges the consecutive row groups of a changed
# table wherever their rows fit in fewer, and writes every row group it merges again. A table
# written whole is often laid out so (a delivery part's last row group is part-full), and the
# night after, one new row set off a merge of the whole table: at 1M persons the raw placements
# (3 row groups) took 1.05 s to checkpoint after a one-row insert, 0.009 s without vacuum tasks.
# Nights change a few rows in place; the weekly full rebuild writes the tables they change whole
# again, so the deleted rows a night leaves in its row groups last a week at most.
STORE_SETTINGS = {"max_vacuum_tasks": 0}


class Warehouse(dg.ConfigurableResource):
    """The working store: one DuckDB file whose schemas are the layers (raw, staging, linkage,
    persons, quality). Identifying columns live here and nowhere else."""

    path: str = "data/warehouse/padu_work.duckdb"
    memory_limit: str = "8GB"
    # The database a run keeps open from its first step to its end (setup_for_execution): every
    # connection is then a cursor on it. Opened and closed per call instead, each close wrote a
    # checkpoint and each open read the catalog again: 2.2 s of a 1M night over about 80 calls.
    _open: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _cursors: int = PrivateAttr(default=0)

    def _database(self) -> duckdb.DuckDBPyConnection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(self.path, config={"memory_limit": self.memory_limit, **STORE_SETTINGS})

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._open = self._database()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._open is not None:
            self._open.close()  # the last connection: DuckDB checkpoints the file here
            self._open = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._open.cursor() if self._open is not None else self._database()
        con.execute("SET enable_progress_bar = false")  # a long statement would draw one on stderr
        self._cursors += 1
        try:
            yield con
        finally:
            con.close()
            self._cursors -= 1

    def release_memory(self) -> None:
        """Drops the blocks the run's calls left cached: called before a step hands records to
        Splink, whose own database needs the memory most. DuckDB keeps the blocks it read or wrote
        while the database is open, up to its memory limit, and the next call reads them from
        memory. Lowering the limit for a moment evicts them: a block of a committed table is only
        dropped, and read again from the file when a later call needs it.

        Only here: until stop 33 a call that left 256 MB or more cached dropped them too. A full
        1M night then peaked at 3.80 GB and without it at 3.79 GB (Splink's step, after this drop,
        is the peak either way; the steps after it hold 0.1 to 0.3 GB more); a P2MI-only
        incremental night, which hands Splink a few thousand records and calls this only when it
        counts the population's reports again, took 13.5 s against 13.9 s (four turns each) at
        2.1 GB against 1.7 GB, `linkage/pairs` no longer reading again what the steps before it
        had read."""
        if self._open is None or self._cursors:
            return
        try:
            self._open.execute("SET memory_limit = '1MB'")
        except duckdb.OutOfMemoryException:
            pass  # blocks still in use: DuckDB keeps the limit it had
        self._open.execute(f"SET memory_limit = '{self.memory_limit}'")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed when the block ends, rolled back (every
        table as it was) when it raises or the run is killed."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        """Replaces each table whole, all of them in one transaction: a failure leaves every one
        as it was."""
        with self.transaction() as con:
            for name, frame in tables.items():
                replace_table(con, name, frame)

    def write_chunks(self, name: str, frames: Iterable[pl.DataFrame]) -> int:
        """Replaces `name` with the rows of `frames`, one frame in memory at a time, all in one
        transaction: a failure, or a frame whose columns do not fit the first, leaves the table as
        it was. Returns the rows written."""
        rows = 0
        with self.transaction() as con:
            for i, frame in enumerate(frames):
                if i == 0:  # a column null throughout the first frame still gets a type
                    replace_table(con, name, frame.with_columns(pl.col(pl.Null).cast(pl.String)))
                else:
                    insert_rows(con, name, frame)
                rows += frame.height
        return rows

    def read_chunks(self, table: str, rows: int, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """The table in stored order, in frames of `rows` rows (the last one fewer), at least one
        frame (empty for an empty table): a stage that works row by row holds one frame at a time.
        DuckDB's reader hands out batches of its own size (about 123,000 rows), whatever size is
        asked for; they are gathered here, since each frame costs a stage a fixed overhead."""
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        with self.connect() as con:
            reader = con.sql(f"SELECT {cols} FROM {_quote(table)}").to_arrow_reader(rows)
            pending: list[pa.RecordBatch] = []
            held = 0
            yielded = False
            for batch in reader:
                pending.append(batch)
                held += batch.num_rows
                while held >= rows:
                    gathered = pa.Table.from_batches(pending, schema=reader.schema)
                    yield pl.from_arrow(gathered.slice(0, rows))
                    yielded = True
                    rest = gathered.slice(rows)
                    pending, held = rest.to_batches(), rest.num_rows
            if held or not yielded:
                yield pl.from_arrow(pa.Table.from_batches(pending, schema=reader.schema))

    def read(self, table: str, columns: list[str] | None = None) -> pl.DataFrame:
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return self.query(f"SELECT {cols} FROM {_quote(table)}")

    def read_rows_of(self, table: str, keys: pl.DataFrame, columns: list[str] | None = None) -> pl.DataFrame:
        """The rows of `table` whose values in the columns of `keys` are a row of `keys`: only
        those leave DuckDB."""
        cols = ", ".join(f't."{c}"' for c in columns) if columns else "t.*"
        on = " AND ".join(f't."{c}" = k."{c}"' for c in keys.columns)
        with self.connect() as con:
            con.register("__keys", keys.to_arrow())
            return con.sql(f"SELECT {cols} FROM {_quote(table)} t SEMI JOIN __keys k ON {on}").pl()

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        with self.connect() as con:
            # duckdb 2: a relation (not an execute() result) gives Polars without an extra copy.
            return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()

    def exists(self, table: str) -> bool:
        with self.connect() as con:
            return table_exists(con, table)


def _retention_days(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"PADU_RETENTION_DAYS must be a whole number of days, at least 1 (got {text!r})")
    return int(text)


def env_settings() -> tuple[PaduSettings, Warehouse]:
    """Settings and store as contract section 4 defines them from the environment."""
    data_dir = os.environ.get("PADU_DATA_DIR", "data")
    settings = PaduSettings(
        landing_dir=os.environ.get("PADU_LANDING_DIR", str(Path(data_dir) / "landing")),
        data_dir=data_dir,
        max_quarantine_share=float(os.environ.get("PADU_MAX_QUARANTINE_SHARE", "0.25")),
        pseudonym_key=os.environ.get("PADU_PSEUDONYM_KEY", ""),
        production=os.environ.get("PADU_ENV", "").lower() == "production",
        retention_days=_retention_days(os.environ.get("PADU_RETENTION_DAYS", "")),
        linkage_backend=os.environ.get("PADU_LINKAGE_BACKEND", "duckdb").strip().lower() or "duckdb",
        spark_master=os.environ.get("PADU_SPARK_MASTER", "local[2]"),
        spark_checkpoint_dir=os.environ.get("PADU_SPARK_CHECKPOINT_DIR", ""),
        linkage_memory_limit=os.environ.get("PADU_LINKAGE_MEMORY_LIMIT", "2GB").strip(),
    )
    settings.backend  # an unknown backend stops here, before any run starts
    return settings, warehouse_in(data_dir)


def warehouse_in(data_dir: str | Path) -> Warehouse:
    """The working store of a data folder, where the nightly job keeps it."""
    return Warehouse(path=str(Path(data_dir) / "warehouse" / "padu_work.duckdb"))


def run_resources(landing_dir: str | Path, data_dir: str | Path, pseudonym_key: str) -> dict:
    """The job's resources over a landing and a data folder, the other settings at their defaults
    (generated nights in tests and benchmarks)."""
    return {
        "padu": PaduSettings(landing_dir=str(landing_dir), data_dir=str(data_dir), pseudonym_key=pseudonym_key),
        "warehouse": warehouse_in(data_dir),
    }
