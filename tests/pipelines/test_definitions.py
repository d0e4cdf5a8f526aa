"""The code location: loads, the asset graph is the one reviewed (a snapshot), the schedule and
the sensor behave."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.definitions import defs
from pipelines.schedules import nightly_schedule, weekly_full_rebuild_schedule
from pipelines.sensors import new_delivery_sensor
from assets.warehouse import FULL_REBUILD_TAG, PaduSettings

# A change to the graph must show up in review: update this snapshot on purpose.
EXPECTED_GRAPH = {
    "raw/dtsen_individu": ("raw", []),
    "raw/p2mi_kasus": ("raw", []),
    "raw/p2mi_penempatan": ("raw", []),
    "raw/sr_siswa": ("raw", []),
    "raw/quarantine": ("raw", ["raw/dtsen_individu", "raw/p2mi_kasus", "raw/p2mi_penempatan", "raw/sr_siswa"]),
    "staging/dtsen_individu": ("staging", ["raw/dtsen_individu"]),
    "staging/p2mi_kasus": ("staging", ["raw/p2mi_kasus"]),
    "staging/p2mi_penempatan": ("staging", ["raw/p2mi_penempatan"]),
    "staging/sr_siswa": ("staging", ["raw/sr_siswa"]),
    "staging/person_records": ("staging", ["staging/dtsen_individu", "staging/p2mi_kasus",
                                           "staging/p2mi_penempatan", "staging/sr_siswa"]),
    "linkage/model": ("linkage", ["staging/person_records"]),
    "linkage/pairs": ("linkage", ["linkage/model"]),
    "linkage/clusters": ("linkage", ["linkage/pairs"]),
    "linkage/diagnostics": ("linkage", ["linkage/clusters", "published/run_info"]),
    "persons/person_ids": ("persons", ["linkage/clusters"]),
    "persons/persons": ("persons", ["persons/person_ids"]),
    **{
        f"published/{t}": ("published", ["persons/persons", "raw/quarantine"])
        for t in ("persons", "person_records", "person_id_events", "household_links", "parent_links",
                  "quarantine", "deliveries", "run_info")
    },
    "quality/report": ("quality", ["published/person_records"]),
    "housekeeping/landing_retention": ("housekeeping", ["published/deliveries", "raw/dtsen_individu",
                                                        "raw/p2mi_kasus", "raw/p2mi_penempatan", "raw/sr_siswa"]),
}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_matches_snapshot():
    graph = defs.resolve_asset_graph()
    actual = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        actual[key.to_user_string()] = (
            node.group_name, sorted(p.to_user_string() for p in node.parent_keys)
        )
    assert actual == EXPECTED_GRAPH


def test_nightly_job_covers_every_asset_and_runs_in_process():
    job = defs.resolve_job_def("nightly")
    assert job.executor_def.name == "in_process"
    graph = defs.resolve_asset_graph()
    assert len(job.asset_layer.executable_asset_keys) == len(list(graph.get_all_asset_keys()))


def test_schedule_is_on_at_two_in_jakarta():
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "Asia/Jakarta"
    assert nightly_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 28, 19, 0, tzinfo=dt.timezone.utc))
    result = nightly_schedule.evaluate_tick(context)
    assert len(result.run_requests) == 1


def test_weekly_full_rebuild_runs_sunday_at_one_in_jakarta_with_the_tag():
    assert weekly_full_rebuild_schedule.cron_schedule == "0 1 * * 0"
    assert weekly_full_rebuild_schedule.execution_timezone == "Asia/Jakarta"
    assert weekly_full_rebuild_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    # Saturday 18:00 UTC is Sunday 01:00 WIB.
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 28, 18, 0, tzinfo=dt.timezone.utc))
    (request,) = weekly_full_rebuild_schedule.evaluate_tick(context).run_requests
    assert request.tags[FULL_REBUILD_TAG] == "true"
    assert {s.name for s in defs.schedules} == {"nightly_0200_wib", "weekly_full_rebuild_sunday_0100_wib"}


def test_sensor_requests_a_run_only_when_a_complete_delivery_lands(tmp_path):
    padu = PaduSettings(landing_dir=str(tmp_path), data_dir=str(tmp_path / "data"))
    first = new_delivery_sensor(dg.build_sensor_context(cursor=None, resources={"padu": padu}))
    assert isinstance(first, dg.SkipReason)
    context = dg.build_sensor_context(resources={"padu": padu})
    new_delivery_sensor.evaluate_tick(context)  # records the fingerprint
    cursor = context.cursor
    folder = tmp_path / "sr_siswa" / "2026-11-27"
    folder.mkdir(parents=True)
    (folder / "siswa.csv").write_text("id_siswa\n1\n")
    same = new_delivery_sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, resources={"padu": padu}))
    assert same.run_requests == []
    (folder / "_SUCCESS").write_text("")
    landed = new_delivery_sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, resources={"padu": padu}))
    assert len(landed.run_requests) == 1
    assert landed.cursor != cursor
