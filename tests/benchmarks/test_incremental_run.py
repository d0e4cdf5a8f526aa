"""benchmarks.incremental end to end on a small population: what its table and summary print."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_benchmark_prints_each_steps_cpu_and_the_same_persons(tmp_path):
    # In a process of its own, as it is run: a night in this one would leave the test process a few
    # hundred MB larger, and a child process's peak RSS counts its parent's at the fork
    # (test_nightly_measure.py measures one).
    run = subprocess.run([sys.executable, "-m", "benchmarks.incremental", "--persons", "1500", "--workdir",
                          str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "same persons as the full rebuild: True" in out
    rows = {m["step"]: m for m in re.finditer(
        r"^(?P<step>\w+)\s+(?P<full>[\d.]+)\s+(?P<wall>[\d.]+)\s+(?P<cpu>[\d.]+)?\s*(?P<cores>[\d.]+)?\s*$", out, re.M)}
    steps = {step: row for step, row in rows.items() if not step.startswith("_")}
    assert {"raw__dtsen_individu", "linkage__pairs", "published_tables"} <= set(steps)
    # Every step has its CPU seconds; together they are the night's, less what ran between steps.
    assert all(row["cpu"] is not None for row in steps.values())
    night_cpu, night_wall = float(rows["_wall"]["cpu"]), float(rows["_wall"]["wall"])
    assert 0 < sum(float(row["cpu"]) for row in steps.values()) <= night_cpu + 0.05
    assert float(rows["_wall"]["cores"]) == round(night_cpu / night_wall, 2)
