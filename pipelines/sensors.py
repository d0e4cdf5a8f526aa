"""Starts the nightly job when a new complete delivery lands. It only lists folders and file
sizes: it never opens DuckDB, so it cannot hold the warehouse file."""

import dagster as dg

from assets.sources.deliveries import complete_deliveries_fingerprint
from assets.warehouse import PaduSettings
from pipelines.instance import fail_orphaned_runs
from pipelines.jobs import nightly_job


@dg.sensor(
    name="new_delivery",
    job=nightly_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a run when the set of complete deliveries in the landing folder changes.",
)
def new_delivery_sensor(context: dg.SensorEvaluationContext, padu: PaduSettings):
    # A killed run would count as in progress for ever and hold back the queue (one run at a time).
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:
        instance = None  # a test context without an instance
    if instance is not None:
        for run_id in fail_orphaned_runs(instance):
            context.log.warning(f"run {run_id} had been killed: marked as failed")
    fingerprint = complete_deliveries_fingerprint(padu.landing_path)
    if context.cursor is None:
        # First evaluation: remember what is there; the schedule covers deliveries already landed.
        context.update_cursor(fingerprint)
        return dg.SkipReason("first look at the landing folder: fingerprint recorded")
    if fingerprint == context.cursor:
        return dg.SkipReason("no new complete delivery")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=f"deliveries-{fingerprint}")
