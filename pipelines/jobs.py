"""The nightly job: every asset, ingest to quality report, in one process (one DuckDB writer)."""

from __future__ import annotations

import dagster as dg

nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.all(),
    description="Ingest the newest deliveries, standardise, link, derive persons and status, "
    "publish atomically, and report quality.",
    executor_def=dg.in_process_executor,
    tags={"dagster/max_retries": 0},
)
