"""Where Splink runs: on an in-memory DuckDB connection in this process (the default), or on Spark
(local mode, or a cluster named by a master URL) once one machine is outgrown. The rules are
written once, in DuckDB's SQL (`LinkageRules.sql_dialect`); for Spark each condition and blocking
rule is transpiled with sqlglot, and a model trained on Spark is saved with the rules' own SQL,
so the model store holds one kind of model whichever engine trained it."""

from __future__ import annotations

import copy
import gc
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import sqlglot
from sqlglot import exp
from splink import DuckDBAPI, Linker
from splink.internals.comparison_level import ComparisonLevel
from splink.internals.database_api import DatabaseAPI

BACKENDS = ("duckdb", "spark")


# Splink 5's Linker switches its own logger to INFO, with a handler on stderr, every time one is
# made: the training narration (hundreds of "Count of 0 for level ..." lines) then fills the
# terminal of `make run`. Its warnings are kept.
SPLINK_LOG_LEVEL = logging.WARNING
# Where Splink's warnings go: re-logged at INFO on this logger, which the Dagster instance manages
# (pipelines/instance.py), so they are in the run's event log under the step that raised them.
SPLINK_MESSAGES_LOGGER = "padu.splink"


class _SplinkToRunLog(logging.Handler):
    """Splink's warnings (a level EM never saw, the u sample size, predict's list of parameters at
    their defaults: the model step's metadata lists those levels) for the run log, not the
    terminal of `make run`, where a first night printed about thirty such lines. With Padu's
    handler on its logger, Splink adds no stderr handler of its own."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(SPLINK_MESSAGES_LOGGER).info(f"Splink: {record.getMessage().strip()}")


def _route_splink_messages() -> None:
    splink = logging.getLogger("splink")
    if not any(isinstance(h, _SplinkToRunLog) for h in splink.handlers):
        splink.addHandler(_SplinkToRunLog(logging.WARNING))
        splink.propagate = False
    logging.getLogger(SPLINK_MESSAGES_LOGGER).setLevel(logging.INFO)


_route_splink_messages()


def make_linker(table, settings, validate: bool = True) -> Linker:
    """Splink's Linker on registered `table`(s), at SPLINK_LOG_LEVEL (see above). `validate`:
    Splink's checks of the settings' SQL, that every column it names is in the table (which logs
    what is missing; the check parses every rule and level again, 0.3 s a linker) and that each
    comparison level's condition parses (`_levels_parsed_already`). A trained model passed both
    when its training linker was made."""
    with nullcontext() if validate else _levels_parsed_already():
        return Linker(table, settings, log_level=SPLINK_LOG_LEVEL, validate_settings=validate)


@contextmanager
def _levels_parsed_already() -> Iterator[None]:
    """Splink's linker parses the condition of every comparison level it builds, only to raise
    on one that does not parse (`ComparisonLevel._validate`), whether or not the settings are to
    be validated: 136 levels, 0.035 to 0.045 s of each of a night's two scoring calls (about a
    sixth of the conflict call). Skipped while a linker of a trained model is made; every other
    linker is made on this thread or after (the in-process executor runs one step at a time). A
    Splink without the method is left as it is."""
    check = ComparisonLevel.__dict__.get("_validate")
    if check is None:
        yield
        return
    ComparisonLevel._validate = lambda self: None
    try:
        yield
    finally:
        ComparisonLevel._validate = check


@dataclass(frozen=True)
class LinkageBackend:
    """name: `duckdb` or `spark`. For Spark: the master URL (`local[2]`, `spark://host:7077`,
    `k8s://https://...`) and a scratch folder that the driver and every executor can reach (Splink
    writes its intermediate tables there as Parquet; each call's files are deleted when it ends)."""

    name: str = "duckdb"
    spark_master: str = "local[2]"
    checkpoint_dir: str = "data/spark/checkpoints"
    # Where DuckDB spills what does not fit in memory (Splink's tables hold NIKs and names): a
    # folder of the working store, not DuckDB's default `.tmp` in the working directory.
    spill_dir: str | None = None
    # DuckDB's memory limit for Splink's connection (`PADU_LINKAGE_MEMORY_LIMIT`, e.g. `2.5GB`):
    # past it DuckDB spills to `spill_dir` instead of growing. None: DuckDB's default, 80% of RAM.
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise ValueError(f"linkage backend must be one of {', '.join(BACKENDS)} (got {self.name!r})")


DUCKDB = LinkageBackend()


# Below this many rows given to Splink, its tables are small: a collection of every Python object
# costs more than it frees (at 1M persons, 0.04 s a collection, 0.15 s of an incremental night).
SPLINK_ROWS_WORTH_COLLECTING = 100_000


def release_splink(rows: int | None = None) -> None:
    """Splink's linker and its database API refer to each other, so the in-memory DuckDB database
    behind them, with every table Splink made (at a million persons, gigabytes of blocked and
    scored pairs), outlives the call until Python's cycle collector happens to run, often steps
    later. Collected here, before the next large allocation, unless the call gave Splink fewer
    than SPLINK_ROWS_WORTH_COLLECTING `rows` (records and pairs; None: unknown, collected)."""
    if rows is None or rows >= SPLINK_ROWS_WORTH_COLLECTING:
        gc.collect()


# --- the rules' SQL on Spark ----------------------------------------------------------------------
# Splink's similarity jar has a `jaro_winkler` UDF, but its values differ from DuckDB's
# `jaro_winkler_similarity` (measured on 160,000 name pairs of the demo data: up to 0.14 apart,
# 26 pairs on the other side of 0.85 and 54 of 0.8), so the rules would score differently on
# Spark. The rules' Jaro-Winkler runs DuckDB's own function instead, on Arrow batches
# (assets/linkage/spark_udfs.py).
JARO_WINKLER_UDF = "duckdb_jaro_winkler_similarity"


def _spark_function(node: exp.Expression) -> exp.Expression:
    """The functions sqlglot has no Spark form for: Jaro-Winkler (above); DuckDB's
    `list_has_all(a, b)` (every element of b is in a) is `size(array_except(b, a)) = 0`, NULL for
    a NULL list on both engines under Spark's ANSI mode; `list_bool_and(list_transform(a, f))` and
    `list_bool_or(...)` (every or some element) are Spark's `forall(a, f)` and `exists(a, f)`.
    `damerau_levenshtein` keeps its name: the jar registers it as a UDF, and its values equal
    DuckDB's (measured on 90,000 NIK pairs)."""
    quantifier = {"list_bool_and": "forall", "list_bool_or": "exists"}.get(node.name.lower()) \
        if isinstance(node, exp.Anonymous) else None
    if quantifier and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Transform):
        mapped = node.expressions[0]
        # The new node's children are not visited again: the function's own body is mapped here.
        return exp.Anonymous(this=quantifier, expressions=[mapped.this.transform(_spark_function),
                                                           mapped.expression.transform(_spark_function)])
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.Anonymous(this=JARO_WINKLER_UDF, expressions=[node.this, node.expression])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "list_has_all":
        container, wanted = node.expressions
        missing = exp.Anonymous(this="array_except", expressions=[wanted, container])
        return exp.paren(exp.EQ(this=exp.Anonymous(this="size", expressions=[missing]),
                                expression=exp.Literal.number(0)))
    return node


@cache
def to_backend_sql(sql: str, read: str, write: str) -> str:
    """One condition or blocking rule, from the rules' dialect to the backend's."""
    if read == write or sql.strip().upper() == "ELSE":
        return sql
    tree = sqlglot.parse_one(sql, read=read)
    if write == "spark":
        tree = tree.transform(_spark_function)
    return tree.sql(dialect=write)


def blocking_rule_sql(rule: Any) -> str:
    return rule["blocking_rule"] if isinstance(rule, dict) else rule


def settings_for_backend(settings: dict, backend: LinkageBackend, rules_dialect: str = "duckdb") -> dict:
    """Splink settings (or a saved model) whose SQL is in the rules' dialect, made runnable on the
    backend: unchanged for DuckDB, transpiled for Spark."""
    if backend.name == rules_dialect:
        return settings
    out = copy.deepcopy(settings)
    for comparison in out["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = to_backend_sql(level["sql_condition"], rules_dialect, backend.name)
    out["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": to_backend_sql(blocking_rule_sql(rule), rules_dialect, backend.name),
         "sql_dialect": backend.name}
        for rule in out.get("blocking_rules_to_generate_predictions", [])
    ]
    out["sql_dialect"] = backend.name
    return out


def rule_for_backend(rule: str, backend: LinkageBackend, rules_dialect: str = "duckdb") -> str:
    """A training rule (deterministic or EM blocking rule) for the backend."""
    return to_backend_sql(rule, rules_dialect, backend.name)


def model_in_rules_dialect(model_json: dict, settings: dict, rules_dialect: str = "duckdb") -> dict:
    """A model trained on another engine, with the rules' own SQL put back: Splink keeps the order
    of comparisons, levels and blocking rules, so each condition is restored in place."""
    out = copy.deepcopy(model_json)
    for trained, written in zip(out["comparisons"], settings["comparisons"], strict=True):
        assert trained["output_column_name"] == written["output_column_name"]
        for level, source in zip(trained["comparison_levels"], written["comparison_levels"], strict=True):
            level["sql_condition"] = source["sql_condition"]
    out["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": blocking_rule_sql(rule), "sql_dialect": rules_dialect}
        for rule in settings["blocking_rules_to_generate_predictions"]
    ]
    out["sql_dialect"] = rules_dialect
    return out


# --- database APIs --------------------------------------------------------------------------------
# DuckDB scans a registered frame one chunk per thread: a frame of one chunk (as a join leaves
# it) is compared on one core.
_VECTOR_ROWS = 2048


def _in_chunks(frame: pl.DataFrame, threads: int) -> pl.DataFrame:
    """`frame` in about `threads` chunks of whole vectors (slices: no rows copied), when it is in
    fewer and holds that many vectors."""
    pieces = min(threads, frame.height // _VECTOR_ROWS)
    if pieces <= frame.n_chunks():
        return frame
    size = -(-frame.height // pieces)
    return pl.concat([frame.slice(start, size) for start in range(0, frame.height, size)], rechunk=False)


def register_frame(db_api: DatabaseAPI, frame: pl.DataFrame, name: str):
    """A Polars frame as a Splink input table (Spark takes it as Arrow, with plain string types).
    For DuckDB in a chunk per core (`_in_chunks`): on a P2MI-only 1M night, Splink's scoring of
    the 30,399 pairs of the touched records took 0.15 s against 0.23 s on the frames Polars' joins
    left in one chunk, with the same scores."""
    if isinstance(db_api, DuckDBAPI):
        return db_api.register(_in_chunks(frame, os.cpu_count() or 1), dataset_display_name=name)
    return db_api.register(frame.to_arrow(compat_level=pl.CompatLevel.oldest()), dataset_display_name=name)


def spark_session(master: str):
    """The process's Spark session, with Splink's similarity jar on its class path. A session
    that already runs in this process is reused (its jars cannot change)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.master(master).appName("padu-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master.startswith("local"):
        # A few partitions suit one machine, and the Python workers are this interpreter (with
        # duckdb); on a cluster spark-defaults.conf and the executors' image decide.
        builder = builder.config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    register_spark_functions(spark)
    return spark


def register_spark_functions(spark) -> None:
    """The functions the transpiled rules call beyond Spark's own and the jar's."""
    from pyspark.sql.functions import arrow_udf

    from assets.linkage.spark_udfs import duckdb_jaro_winkler_similarity

    spark.udf.register(JARO_WINKLER_UDF, arrow_udf(duckdb_jaro_winkler_similarity, "double"))


def _delete_path(spark, path: str) -> None:
    """Deletes a folder on whatever file system the path names (local, HDFS, S3A...)."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hadoop_path, True)


@contextmanager
def make_db_api(backend: LinkageBackend = DUCKDB) -> Iterator[DatabaseAPI]:
    """A Splink database API for one training, scoring or clustering call. DuckDB: a fresh
    in-memory connection (Splink's `__splink__` tables stay out of the warehouse file). Spark: the
    process's session, with a scratch folder of its own that is deleted (with the temporary views
    and cached tables) when the call ends, since Splink's intermediate tables hold personal data."""
    if backend.name == "duckdb":
        spill = Path(backend.spill_dir) / uuid.uuid4().hex if backend.spill_dir else None
        if spill:
            spill.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        config = {"temp_directory": str(spill)} if spill else {}
        if backend.memory_limit:
            config["memory_limit"] = backend.memory_limit
        con = duckdb.connect(config=config)
        try:
            yield DuckDBAPI(connection=con)
        finally:
            con.close()
            if spill:
                shutil.rmtree(spill, ignore_errors=True)
        return

    from splink.backends.spark import SparkAPI

    spark = spark_session(backend.spark_master)
    scratch = f"{backend.checkpoint_dir.rstrip('/')}/{uuid.uuid4().hex}"
    spark.sparkContext.setCheckpointDir(scratch)
    views_before = {t.name for t in spark.catalog.listTables() if t.isTemporary}
    try:
        yield SparkAPI(spark_session=spark, break_lineage_method="parquet")
    finally:
        for table in spark.catalog.listTables():
            if table.isTemporary and table.name not in views_before:
                spark.catalog.dropTempView(table.name)
        spark.catalog.clearCache()
        _delete_path(spark, scratch)
