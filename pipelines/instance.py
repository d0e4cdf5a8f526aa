"""The persistent Dagster home (run history, event logs, schedule state) under the data folder."""

from __future__ import annotations

import os
from pathlib import Path

DAGSTER_YAML = """\
# Written by Padu. One run at a time: the working DuckDB file has one writer.
concurrency:
  runs:
    max_concurrent_runs: 1
telemetry:
  enabled: false
"""


def dagster_home(data_dir: Path | None = None) -> Path:
    """$DAGSTER_HOME, else $PADU_DATA_DIR/dagster (contract section 4); created with its
    dagster.yaml when missing, and exported so Dagster finds it."""
    data_dir = data_dir or Path(os.environ.get("PADU_DATA_DIR", "data"))
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


if __name__ == "__main__":
    print(dagster_home())
