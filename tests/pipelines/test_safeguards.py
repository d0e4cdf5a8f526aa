"""Safeguards around a run: production refuses to start without the pseudonym key, and a run whose
process was killed is marked failed instead of holding back the queue for ever."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import dagster as dg

from assets.warehouse import RUN_HOST_TAG, RUN_PID_TAG, PaduSettings, Warehouse
from pipelines.definitions import ALL_ASSETS
from pipelines.instance import fail_orphaned_runs
from pipelines.sensors import new_delivery_sensor


def test_production_without_a_key_refuses_before_reading_anything(tmp_path):
    landing = tmp_path / "landing"
    folder = landing / "p2mi_kasus" / "2026-11-27"
    folder.mkdir(parents=True)
    (folder / "k.csv").write_text("id_kasus,nama,negara,jenis_kasus,tgl_pengaduan\nC1,WATI,KAMBOJA,TPPO,2026-01-20\n")
    (folder / "_SUCCESS").write_text("")
    resources = {
        "padu": PaduSettings(landing_dir=str(landing), data_dir=str(tmp_path / "data"), production=True),
        "warehouse": Warehouse(path=str(tmp_path / "data" / "warehouse" / "padu_work.duckdb")),
    }
    result = dg.materialize(ALL_ASSETS, resources=resources, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    assert ("PADU_ENV=production and PADU_PSEUDONYM_KEY is not set: refusing to run"
            in failure.event_specific_data.error.message)
    assert result.get_asset_materialization_events() == []
    assert not (tmp_path / "data").exists()  # no working store, no demo key, nothing published


def _run(instance: dg.DagsterInstance, run_id: str, pid: int, host: str) -> None:
    instance.add_run(dg.DagsterRun(job_name="nightly", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                   tags={RUN_PID_TAG: str(pid), RUN_HOST_TAG: host}))


def test_runs_whose_process_is_gone_are_marked_failed_by_the_sensor():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    with dg.instance_for_test() as instance:
        _run(instance, "killed", dead.pid, host)
        _run(instance, "alive", os.getppid(), host)
        _run(instance, "elsewhere", dead.pid, "another-host")
        context = dg.build_sensor_context(instance=instance, cursor="x",
                                          resources={"padu": PaduSettings(landing_dir="/nonexistent")})
        new_delivery_sensor.evaluate_tick(context)
        status = {r: instance.get_run_by_id(r).status for r in ("killed", "alive", "elsewhere")}
        assert status == {"killed": dg.DagsterRunStatus.FAILURE, "alive": dg.DagsterRunStatus.STARTED,
                          "elsewhere": dg.DagsterRunStatus.STARTED}
        [failure] = instance.all_logs("killed", of_type=dg.DagsterEventType.RUN_FAILURE)
        assert f"(pid {dead.pid} on {host}) is gone: it was killed or crashed" in failure.message
        assert fail_orphaned_runs(instance) == []  # once only
