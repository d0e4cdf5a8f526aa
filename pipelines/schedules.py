"""When the nightly job runs: 02:00 in Jakarta, on by default."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import nightly_job

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_0200_wib",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Jakarta",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Runs the nightly job at 02:00 Asia/Jakarta (WIB).",
)
