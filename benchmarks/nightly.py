"""The nightly benchmark (`make bench`): generates a night of synthetic deliveries, runs the nightly
job in a fresh process (`python -m pipelines.run_nightly`) and prints each step's seconds and the
process's memory while the step ran; then runs bare Splink (benchmarks/bare_splink.py) in another
fresh process on the same standardised records, for the ratio.

    python -m benchmarks.nightly                                  # 1,000,000 persons
    python -m benchmarks.nightly --persons 100000
    python -m benchmarks.nightly --sizes 100000,300000,1000000    # and a scaling table

Memory is the resident set of the whole process: its peak (the kernel's ru_maxrss of that child)
and, per step, the highest RSS sampled every 0.2 s from /proc while that step ran, which includes
what earlier steps still hold. Generating the deliveries is timed apart, never in the job figure."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.2


@dataclass
class Measured:
    """A child process: its wall time, peak RSS (bytes), exit code, output, and samples of (time,
    RSS, CPU seconds so far)."""

    seconds: float
    peak_rss: int
    returncode: int
    stdout: str
    started_at: float
    cpu_seconds: float = 0.0  # user + system time of every thread: another tenant's load moves it less
    samples: list[tuple[float, int, float]] = field(default_factory=list)


def _rss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float | None:
    """User and system seconds of every thread of `pid` so far (/proc/<pid>/stat, fields 14, 15)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def measure(cmd: list[str], env: dict[str, str]) -> Measured:
    """Runs `cmd`, sampling its RSS and CPU seconds; the peak and the total CPU are the kernel's
    own (wait4), not the samples'. The kernel's peak also counts this process's peak RSS before
    the child's exec (the memory the child starts from), which is why the benchmark's driver stays
    small: the job it measures peaks at gigabytes."""
    out = tempfile.TemporaryFile(mode="w+")
    started_at = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True)
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, cpu = _rss(proc.pid), _cpu(proc.pid)
            if rss is not None and cpu is not None:
                samples.append((time.time(), rss, cpu))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    return Measured(seconds, usage.ru_maxrss * 1024, proc.returncode, out.read(), started_at,
                    usage.ru_utime + usage.ru_stime, samples)


def _require(step: str, measured: Measured) -> None:
    if measured.returncode != 0:
        sys.stderr.write(measured.stdout[-4000:])
        raise SystemExit(f"{step} failed with exit code {measured.returncode}")


def step_times(dagster_home: Path) -> tuple[str, list[tuple[str, float, float]]]:
    """The newest run's steps from its event log: (step key, start, end) in epoch seconds."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.get_runs(limit=1)[0]
        starts: dict[str, float] = {}
        steps = []
        for record in instance.get_records_for_run(run.run_id, limit=100_000).records:
            entry = record.event_log_entry
            event = entry.dagster_event
            if event is None or entry.step_key is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[entry.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in starts:
                steps.append((entry.step_key, starts[entry.step_key], entry.timestamp))
    return run.run_id, sorted(steps, key=lambda s: s[1])


def _peak_between(samples: list[tuple[float, int, float]], start: float, end: float) -> int:
    inside = [rss for t, rss, _ in samples if start <= t <= end + SAMPLE_SECONDS]
    return max(inside, default=0)


def cpu_between(samples: list[tuple[float, int, float]], start: float, end: float) -> float:
    """CPU seconds spent from `start` to `end`, to the sampling interval: the last sample by the
    end less the last one by the start, so that steps that follow each other share a boundary
    and no CPU second is counted twice."""
    def by(t: float) -> float:
        return max((cpu for at, _, cpu in samples if at <= t), default=0.0)
    return by(end) - by(start)


def warehouse_counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        def one(sql: str) -> int:
            return int(con.execute(sql).fetchall()[0][0] or 0)

        return {
            "records": one("SELECT count(*) FROM staging.person_records"),
            "pairs_at_threshold": one("SELECT count(*) FROM linkage.pairs"),
            # Every blocked pair (all rules together), from linkage/diagnostics: exact up to 200,000
            # records, estimated from a sample of records above (diagnostics.EXACT_COUNT_MAX_RECORDS).
            "candidate_pairs": one("SELECT max(cumulative_pairs) FROM linkage.blocking_report"),
            "candidate_pairs_estimated": one("SELECT bool_or(is_estimate)::INTEGER FROM linkage.blocking_report"),
            "persons": one("SELECT count(DISTINCT cluster_id) FROM linkage.clusters"),
        }
    finally:
        con.close()


def bench_size(persons: int, workdir: Path, keep: bool, reuse_landing: Path | None = None) -> dict:
    root = workdir / f"persons-{persons}"
    landing, data, home = reuse_landing or root / "landing", root / "data", root / "dagster"
    # The job always starts from an empty store (a first night: full linkage, training included).
    for folder in (data, home):
        shutil.rmtree(folder, ignore_errors=True)
    for folder in (landing, data, home):
        folder.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    env = {**os.environ, "PADU_LANDING_DIR": str(landing), "PADU_DATA_DIR": str(data),
           "DAGSTER_HOME": str(home), "PADU_PSEUDONYM_KEY": "benchmark-key", "PYTHONUNBUFFERED": "1"}
    env.pop("PADU_ENV", None)

    if reuse_landing is None:
        print(f"\n== {persons:,} persons: generating deliveries in {landing}", flush=True)
        generated = measure([python, "-m", "synthetic", "--landing", str(landing), "--persons", str(persons),
                             "--no-progress"], env)
        _require("generation", generated)
    else:
        print(f"\n== deliveries reused from {landing} (not generated)", flush=True)
        generated = Measured(0.0, 0, 0, "", time.time())

    print(f"== {persons:,} persons: nightly job (python -m pipelines.run_nightly)", flush=True)
    job = measure([python, "-m", "pipelines.run_nightly"], env)
    _require("nightly job", job)
    run_id, steps = step_times(home)
    warehouse = data / "warehouse" / "padu_work.duckdb"
    counts = warehouse_counts(warehouse)

    print(f"== {persons:,} persons: bare Splink (python -m benchmarks.bare_splink)", flush=True)
    bare = measure([python, "-m", "benchmarks.bare_splink", str(warehouse)], env)
    _require("bare Splink", bare)
    bare_result = json.loads(bare.stdout.strip().splitlines()[-1])

    job_end = job.started_at + job.seconds
    def stage(name: str, start: float, end: float) -> tuple[str, float, int, float]:
        return name, end - start, _peak_between(job.samples, start, end), cpu_between(job.samples, start, end)

    stages = []
    if steps:
        stages.append(stage("(process start: imports, instance, resources)", job.started_at, steps[0][1]))
    stages += [stage(key, start, end) for key, start, end in steps]
    if steps:
        last_end = max(end for _, _, end in steps)
        stages.append(("(between steps and after the last: summary, exit)",
                       job.seconds - sum(s for _, s, _, _ in stages), _peak_between(job.samples, last_end, job_end),
                       job.cpu_seconds - sum(c for _, _, _, c in stages)))
    splink_seconds = sum(v for k, v in bare_result["seconds"].items() if k != "read_records")
    splink_cpu = sum(v for k, v in bare_result["cpu_seconds"].items() if k != "read_records")
    result = {
        "persons": persons, "run_id": run_id, "stages": stages, "counts": counts,
        "generate_seconds": generated.seconds, "generate_peak": generated.peak_rss,
        "job_seconds": job.seconds, "job_peak": job.peak_rss, "job_cpu_seconds": job.cpu_seconds,
        "bare_splink_cpu_seconds": splink_cpu,
        "bare": bare_result, "bare_splink_seconds": splink_seconds,
        "bare_process_seconds": bare.seconds, "bare_peak": bare.peak_rss,
        "load_average": os.getloadavg(),
    }
    if not keep:
        shutil.rmtree(root, ignore_errors=True)  # never a reused landing folder: it is outside root
    return result


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f}"


def after_publish_steps() -> tuple[str, ...]:
    """The job's steps that run after the analysts' tables are published: those of the assets
    downstream of a published table (the diagnostics, the quality report, which measures only
    where the deliveries carry a truth file, and the landing retention), from the asset graph."""
    import dagster as dg

    from pipelines.definitions import defs

    downstream = dg.AssetSelection.key_prefixes("published").downstream(include_self=False)
    return tuple(sorted("__".join(key.path) for key in downstream.resolve(defs.resolve_asset_graph())))


def up_to_publish(r: dict, after: tuple[str, ...]) -> tuple[float, float]:
    """The job's wall and CPU seconds without the steps `after` publishing: ingest to publish."""
    later = [stage for stage in r["stages"] if stage[0] in after]
    return (r["job_seconds"] - sum(stage[1] for stage in later),
            r["job_cpu_seconds"] - sum(stage[3] for stage in later))


def print_size(r: dict) -> None:
    print(f"\nNightly job at {r['persons']:,} persons ({r['counts']['records']:,} records), run {r['run_id']}")
    print(f"{'stage':<52} {'seconds':>8} {'RSS GB':>7} {'CPU s':>7}")
    for name, seconds, peak, cpu in sorted(r["stages"], key=lambda s: -s[1]):
        print(f"{name:<52} {seconds:>8.1f} {_gb(peak):>7} {cpu:>7.1f}")
    bare = r["bare"]["seconds"]
    ratio = r["job_seconds"] / r["bare_splink_seconds"]
    print(f"\n{'job, every step (process wall)':<52} {r['job_seconds']:>8.1f} {_gb(r['job_peak']):>7}  peak")
    print(f"{'bare Splink: train + predict + cluster':<52} {r['bare_splink_seconds']:>8.1f} {_gb(r['bare_peak']):>7}  peak")
    print(f"{'   train / predict / cluster':<52} "
          f"{bare['train']:.1f} / {bare['predict']:.1f} / {bare['cluster']:.1f}")
    print(f"{'   bare process wall (imports, read records too)':<52} {r['bare_process_seconds']:>8.1f}")
    print(f"{'ratio job / bare Splink':<52} {ratio:>8.2f}   target <= 2.0")
    print(f"{'CPU seconds: job / bare Splink (train, predict, cluster)':<52} "
          f"{r['job_cpu_seconds']:.1f} / {r['bare_splink_cpu_seconds']:.1f} = "
          f"{r['job_cpu_seconds'] / r['bare_splink_cpu_seconds']:.2f}   (less moved by other load)")
    after = after_publish_steps()
    seconds, cpu = up_to_publish(r, after)
    print(f"{'ingest to publish (without ' + ', '.join(after) + ')':<52} {seconds:>8.1f}   ratio "
          f"{seconds / r['bare_splink_seconds']:.2f}; CPU {cpu:.1f} / {r['bare_splink_cpu_seconds']:.1f} = "
          f"{cpu / r['bare_splink_cpu_seconds']:.2f}")
    print(f"{'job seconds':<52} {r['job_seconds']:>8.1f}   target <= 180")
    print(f"{'job peak GB':<52} {_gb(r['job_peak']):>8}   target <= 4.0")
    how = "estimated from a sample" if r["counts"].get("candidate_pairs_estimated") else "exact"
    print(f"candidate pairs (blocking, {how}) {r['counts']['candidate_pairs']:,}; pairs at p >= threshold: "
          f"pipeline {r['counts']['pairs_at_threshold']:,}, bare {r['bare']['pairs_at_threshold']:,}; "
          f"clusters: pipeline {r['counts']['persons']:,}, bare {r['bare']['clusters']:,}")
    generation = (f"{r['generate_seconds']:.0f} s, {_gb(r['generate_peak'])} GB peak" if r["generate_peak"]
                  else "reused, not generated")
    print(f"generating the deliveries (not in the job figure): {generation}; load average after: "
          + " ".join(f"{x:.1f}" for x in r["load_average"]))


def print_scaling(results: list[dict]) -> None:
    print("\nScaling (growth relative to the smallest size)")
    print(f"{'persons':>10} {'records':>10} {'cand. pairs':>12} {'job s':>7} {'job GB':>7} "
          f"{'bare s':>7} {'bare GB':>7} {'ratio':>6} {'x records':>9} {'x pairs':>8} {'x job s':>8} {'x job GB':>8}")
    base = results[0]
    for r in results:
        c = r["counts"]
        print(f"{r['persons']:>10,} {c['records']:>10,} {c['candidate_pairs']:>12,} {r['job_seconds']:>7.1f} "
              f"{_gb(r['job_peak']):>7} {r['bare_splink_seconds']:>7.1f} {_gb(r['bare_peak']):>7} "
              f"{r['job_seconds'] / r['bare_splink_seconds']:>6.2f} "
              f"{c['records'] / base['counts']['records']:>9.1f} "
              f"{c['candidate_pairs'] / base['counts']['candidate_pairs']:>8.1f} "
              f"{r['job_seconds'] / base['job_seconds']:>8.1f} {r['job_peak'] / base['job_peak']:>8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000, help="DTSEN persons (default 1,000,000)")
    parser.add_argument("--sizes", default="", help="comma-separated persons, e.g. 100000,300000,1000000: "
                        "one run each and a scaling table (overrides --persons)")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder under /tmp")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (deliveries, warehouse, Dagster home)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--landing", type=Path, default=None,
                        help="reuse the deliveries in this folder (from `python -m synthetic --landing DIR "
                        "--persons N`, N as --persons) instead of generating them; one size only")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()] or [args.persons]
    if args.landing is not None and len(sizes) > 1:
        parser.error("--landing reuses one size's deliveries: give --persons, not --sizes")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="padu-bench-", dir="/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; {os.cpu_count()} cores; load average before: "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
    results = []
    try:
        for persons in sizes:
            results.append(bench_size(persons, workdir, args.keep, args.landing))
            print_size(results[-1])
            sys.stdout.flush()
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if len(results) > 1:
        print_scaling(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
