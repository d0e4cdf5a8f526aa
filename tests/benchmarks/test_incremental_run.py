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
    # What the sources delivered, counted apart from what linkage scored again.
    delivered = re.search(r"as delivered: new (?P<new>[\d,]+), changed (?P<changed>[\d,]+), deleted (?P<deleted>[\d,]+)", out)
    assert delivered and all(int(delivered[k].replace(",", "")) > 0 for k in ("new", "changed", "deleted"))
    assert re.search(r"as linkage saw them: new [\d,]+, changed [\d,]+, deleted [\d,]+, capped blocking keys alone "
                     r"moved [\d,]+; pairs scored tonight [\d,]+", out)


def test_delivered_changes_count_records_by_their_delivered_rows(tmp_path):
    import duckdb
    import polars as pl

    from assets.sources.contracts import CONTRACTS
    from benchmarks.incremental import delivered_changes

    def night(folder: Path, rows: dict[str, tuple[int, int]]) -> Path:
        (folder / "warehouse").mkdir(parents=True)
        with duckdb.connect(str(folder / "warehouse" / "padu_work.duckdb")) as con:
            con.execute("CREATE SCHEMA staging")
            for source in CONTRACTS:
                frame = pl.DataFrame({"source_record_id": list(rows), "_row_hash": [h[0] for h in rows.values()],
                                      "_row_hash_2": [h[1] for h in rows.values()], "other": ["x"] * len(rows)},
                                     schema={"source_record_id": pl.String, "_row_hash": pl.UInt64,
                                             "_row_hash_2": pl.UInt64, "other": pl.String})
                con.execute(f"CREATE TABLE staging.{source} AS SELECT * FROM frame")
        return folder

    # 1 kept, 2 changed in its second hash only, 3 deleted, 4 new: in each of the four sources.
    before = night(tmp_path / "a", {"1": (1, 1), "2": (2, 2), "3": (3, 3)})
    after = night(tmp_path / "b", {"1": (1, 1), "2": (2, 9), "4": (4, 4)})
    n = len(CONTRACTS)
    assert delivered_changes(before, after) == {"new": n, "changed": n, "deleted": n}
