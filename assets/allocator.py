"""More malloc arenas for the night's process (Linux, glibc).

glibc's malloc gives each thread an arena of its own, up to 8 per core (16 on a 2-core machine).
A thread that comes after that shares an arena already in use. A night's process runs more
threads than that: Polars, Arrow, Dagster, the working store's DuckDB, and the worker threads of
each DuckDB connection Splink opens. When a new DuckDB worker thread is given the same arena as
the main thread, the two threads that execute one query wait on that arena's lock at every
allocation.

Measured on one 1M-record prediction (the same model and records, repeated in one process, each
run inside a Dagster run): 22.6 to 24.0 s, but in each of six processes one run of two to four
took 31.0 to 34.9 s. That run used 11 to 15 more CPU seconds and made 334,640 to 420,246 voluntary
context switches instead of about 400. perf showed the extra time in glibc's lock wait and wake
(`__lll_lock_wait_private`) and in `_int_malloc` and `_int_free`. With room for 32 arenas per core, 7 runs in a row took
22.4 to 23.2 s. This is the `linkage/pairs` step that took 10 to 14 s longer now and then
(docs/benchmarks.md).

glibc fixes its limit when a process first needs a ninth arena, so the call must come before
that: `assets/__init__.py` makes it, and every entry point imports `assets` before it runs a
query (with `make run`, 4 arenas exist at that point). An operator's own `MALLOC_ARENA_MAX` (read
by glibc at start) is left as it is."""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS_PER_CORE = 32  # glibc's own limit is 8 per core on 64-bit machines


def allow_more_malloc_arenas(per_core: int = ARENAS_PER_CORE) -> bool:
    """Raises glibc's limit on malloc arenas to `per_core` per core. Returns whether it was set:
    not on another C library or system, nor when the environment sets MALLOC_ARENA_MAX."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, per_core * (os.cpu_count() or 1)))
