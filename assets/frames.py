"""SQL over frames held in memory: a throwaway in-memory DuckDB connection per query, for the
places where one query states a rule once for both a stored table and a frame (tests, tools)."""

from __future__ import annotations

import duckdb
import polars as pl


def query_frames(sql: str, frames: dict[str, pl.DataFrame], params: list | None = None) -> pl.DataFrame:
    """The result of `sql` as a Polars frame, each of `frames` registered under its name."""
    con = duckdb.connect()
    try:
        for name, frame in frames.items():
            con.register(name, frame.to_arrow())
        return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()
    finally:
        con.close()
