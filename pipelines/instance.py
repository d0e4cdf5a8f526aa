"""The persistent Dagster home (run history, event logs, schedule state) under the data folder."""

from __future__ import annotations

import os
import socket
from pathlib import Path

WRITTEN_BY_PADU = "# Written by Padu."
DAGSTER_YAML = f"""\
{WRITTEN_BY_PADU} One run at a time: the working DuckDB file has one writer.
concurrency:
  runs:
    max_concurrent_runs: 1
telemetry:
  enabled: false
# Splink's warnings, in the run's event log under their step (assets/linkage/backend.py).
python_logs:
  managed_python_loggers:
    - padu.splink
  python_log_level: INFO
"""


def dagster_home(data_dir: Path | None = None) -> Path:
    """$DAGSTER_HOME, else $PADU_DATA_DIR/dagster (contract section 4); created with its
    dagster.yaml when missing, and exported so Dagster finds it."""
    data_dir = data_dir or Path(os.environ.get("PADU_DATA_DIR", "data"))
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # Padu's own file is brought up to date; one an operator wrote is theirs.
    written = config.read_text() if config.exists() else None
    if written is None or (written.startswith(WRITTEN_BY_PADU) and written != DAGSTER_YAML):
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def fail_orphaned_runs(instance) -> list[str]:
    """Marks as failed the runs recorded as in progress whose process on this host is gone (killed
    with SIGKILL, or the machine went down): Dagster would show them running for ever, and with
    one run at a time they would hold back every queued run. Returns their run ids."""
    import dagster as dg  # here: importing this module must not load Dagster (see dagster_home)

    from assets.warehouse import RUN_HOST_TAG, RUN_PID_TAG

    host = socket.gethostname()
    in_progress = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
    )
    failed = []
    for run in in_progress:
        pid = run.tags.get(RUN_PID_TAG, "")
        if run.tags.get(RUN_HOST_TAG) != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        if _process_alive(int(pid)):
            continue
        instance.report_run_failed(
            run,
            message=f"The process of this run (pid {pid} on {host}) is gone: it was killed or "
            "crashed. Nothing it was building was published; the next run starts afresh.",
        )
        failed.append(run.run_id)
    return failed


if __name__ == "__main__":
    print(dagster_home())
