"""benchmarks.incremental end to end on a small population: what its table and summary print."""

import re

from benchmarks.incremental import main


def test_the_benchmark_prints_each_steps_cpu_and_the_same_persons(tmp_path, capsys):
    assert main(["--persons", "1500", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
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
