"""When the nightly job runs: 02:00 in Jakarta every night, and a full rebuild of the linkage at
01:00 on Sundays; both on by default."""

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

# A full rebuild once a week re-scores every pair with the kept model, so that nothing an
# incremental night carried over can drift unseen; the tag is read by `linkage/model`.
weekly_full_rebuild_schedule = dg.ScheduleDefinition(
    name="weekly_full_rebuild_sunday_0100_wib",
    job=nightly_job,
    cron_schedule="0 1 * * 0",
    execution_timezone="Asia/Jakarta",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    tags={"padu/full_rebuild": "true"},
    description="Sundays at 01:00 Asia/Jakarta: the nightly job with a full rebuild of the linkage "
    "(every pair scored again; the model is reused unless the rules changed).",
)
