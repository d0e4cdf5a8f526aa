"""Where an incremental night's time goes, statement by statement: `python -m benchmarks.trace_night
--workdir DIR`, on a folder `benchmarks.incremental --workdir DIR` left (its night 1 and landing
folder, with the deliveries it held back still held back). Copies night 1, runs night 2 on the copy
incrementally, and prints each step's wall and CPU seconds and the cores it kept busy, then the
working store's slowest statements, Polars' collects and Parquet writes, each with the line of
`assets/` that ran it, and their totals by line.

Only the statements' SQL is printed (its first characters), never a row: the values reach DuckDB as
registered tables, not as literals. The timing wraps, for the run only, the store's connections,
DuckDB 2's Python call that runs a relation, and two Polars methods; it adds a few percent to the
night."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb._seam as duckdb_seam
import polars as pl

import assets.warehouse as warehouse_module
from benchmarks.incremental import copy_night, run_night

ASSETS = Path(__file__).resolve().parent.parent / "assets"
WAREHOUSE = ASSETS / "warehouse.py"


def _caller() -> str:
    """The innermost frame of `assets/` on the stack (file, line and function), past the store's
    helpers (`assets/warehouse.py`), which are named after it."""
    frame, helper = sys._getframe(2), None
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path == WAREHOUSE:
            helper = helper or frame.f_code.co_name
        elif path.is_relative_to(ASSETS):
            return f"{path.relative_to(ASSETS.parent)}:{frame.f_lineno} {frame.f_code.co_name}" + (
                f" via {helper}" if helper else "")
        frame = frame.f_back
    return f"assets/warehouse.py {helper}" if helper else "(outside assets/)"


@dataclass
class Timings:
    """(seconds, kind, where, what) of every timed call."""

    calls: list[tuple[float, str, str, str]] = field(default_factory=list)

    def add(self, started: float, kind: str, what: str) -> None:
        self.calls.append((time.perf_counter() - started, kind, _caller(), " ".join(what.split())[:120]))

    def by_place(self) -> list[tuple[float, int, str, str]]:
        """(seconds, calls, kind, where), the most first."""
        totals: dict[tuple[str, str], list] = defaultdict(lambda: [0.0, 0])
        for seconds, kind, where, _ in self.calls:
            totals[kind, where][0] += seconds
            totals[kind, where][1] += 1
        return sorted(((s, n, kind, where) for (kind, where), (s, n) in totals.items()), reverse=True)


def _timed(method: Callable, timings: Timings, kind: str, what: Callable[..., str]) -> Callable:
    """`method`, its calls timed into `timings` as `kind`, described by `what(*args, **kwargs)`."""
    def call(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            timings.add(started, kind, what(*args, **kwargs))
    return call


def _sql_of(*args, **kwargs) -> str:
    """The statement of a call `execute(sql, ...)` or `submit(con, sql, ...)`."""
    return next((a for a in args if isinstance(a, str)), "")


class TimedConnection:
    """A DuckDB connection whose `execute` calls are timed (a relation's statements, as `sql()`
    gives them, run when it is read, and are timed where DuckDB runs them: `timed`); everything
    else is the connection's own."""

    def __init__(self, con, timings: Timings):
        self._con = con
        self.execute = _timed(con.execute, timings, "sql", _sql_of)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


@contextmanager
def timed(timings: Timings) -> Iterator[None]:
    """While inside: the working store's connections are TimedConnections; every relation DuckDB
    runs, on any connection (Splink's too), is timed where DuckDB 2's Python layer submits it
    (`duckdb._seam.submit`, its one way to the engine for relations); and Polars' collects and
    Parquet writes are timed too."""
    connect, submit = warehouse_module.Warehouse.connect, duckdb_seam.submit
    collect, write_parquet = pl.LazyFrame.collect, pl.DataFrame.write_parquet

    @contextmanager
    def timed_connect(self):
        with connect(self) as con:
            yield TimedConnection(con, timings)

    def parquet_file(frame, file, *args, **kwargs) -> str:
        return Path(str(file)).name

    warehouse_module.Warehouse.connect = timed_connect
    duckdb_seam.submit = _timed(submit, timings, "sql", _sql_of)
    pl.LazyFrame.collect = _timed(collect, timings, "collect", lambda *args, **kwargs: "")
    pl.DataFrame.write_parquet = _timed(write_parquet, timings, "parquet", parquet_file)
    try:
        yield
    finally:
        warehouse_module.Warehouse.connect, duckdb_seam.submit = connect, submit
        pl.LazyFrame.collect, pl.DataFrame.write_parquet = collect, write_parquet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True, help="a folder benchmarks.incremental --workdir left")
    parser.add_argument("--top", type=int, default=30, help="how many statements and places to print")
    args = parser.parse_args(argv)
    logging.getLogger("splink").setLevel(logging.ERROR)
    night1, traced = args.workdir / "night1", args.workdir / "night2-traced"
    if not (night1 / "published").is_dir():
        raise SystemExit(f"{night1} holds no night 1: run benchmarks.incremental --workdir {args.workdir} first")
    copy_night(night1, traced)
    timings = Timings()
    with timed(timings):
        _, seconds, cpu = run_night(args.workdir / "landing", traced, dg.DagsterInstance.ephemeral())
    print(f"{'step':<36}{'s':>8}{'CPU s':>8}{'cores':>7}")
    for step in sorted(cpu, key=lambda s: -seconds[s]):
        print(f"{step:<36}{seconds[step]:>8}{cpu[step]:>8}{cpu[step] / seconds[step] if seconds[step] else 0:>7.2f}")
    print(f"{'night':<36}{seconds['_wall']:>8}{seconds['_cpu']:>8}{seconds['_cpu'] / seconds['_wall']:>7.2f}")
    for kind in ("sql", "collect", "parquet"):
        print(f"{kind}: {sum(c[0] for c in timings.calls if c[1] == kind):.2f} s in "
              f"{sum(1 for c in timings.calls if c[1] == kind)} calls")
    print(f"\nslowest calls ({args.top})")
    for seconds_, kind, where, what in sorted(timings.calls, reverse=True)[:args.top]:
        print(f"{seconds_:7.3f} {kind:<8}{where} | {what}")
    print(f"\nby line of assets/ ({args.top})")
    for seconds_, calls, kind, where in timings.by_place()[:args.top]:
        print(f"{seconds_:7.3f} {calls:5d} {kind:<8}{where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
