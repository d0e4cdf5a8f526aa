"""Padu's Dagster assets and the code they run."""

from assets.allocator import allow_more_malloc_arenas

# Before the night's threads start: every entry point (the Dagster code location, `make run`, the
# benchmarks, the tests) imports this package first. Why: assets/allocator.py.
allow_more_malloc_arenas()
