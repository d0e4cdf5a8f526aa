"""Functions that Spark's Python workers run on the executors for the linkage rules. Kept apart
from assets/linkage/backend.py so that a worker imports duckdb and pyarrow only, not Splink."""

import duckdb
import pyarrow as pa


def duckdb_jaro_winkler_similarity(left: pa.Array, right: pa.Array) -> pa.Array:
    """DuckDB's jaro_winkler_similarity on one Arrow batch, in row order (NULL in, NULL out)."""
    con = duckdb.connect()
    try:
        con.register("batch", pa.table({"l": left, "r": right}))
        return con.sql("SELECT jaro_winkler_similarity(l, r) AS s FROM batch").to_arrow_table()["s"].combine_chunks()
    finally:
        con.close()
