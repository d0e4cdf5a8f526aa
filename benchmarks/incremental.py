"""Incremental night vs full rebuild, on generated nights: `python -m benchmarks.incremental
--persons 1000000`. Runs night 1 (full: trains the model), then night 2 (about `--change-share`
of the records new, changed or deleted) twice from the same starting state: incrementally and
as a full rebuild with the same model. Prints the time of each step and of the whole night (and
the incremental night's CPU seconds and busy cores per step), the ratio, whether both give the
same persons, and the share of untouched records that kept their person_id."""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from assets.sources.contracts import CONTRACTS
from assets.warehouse import FULL_REBUILD_TAG, run_resources, warehouse_in
from benchmarks.nightly import after_publish_steps, cpu_between
from pipelines.definitions import ALL_ASSETS
from synthetic.nights import generate_night

NIGHT1_DATE = date(2026, 11, 27)  # night 2 delivers the day after
LINKAGE_STEPS = ("linkage__model", "linkage__pairs", "linkage__clusters", "persons__person_ids")


def _cpu_seconds() -> float:
    """This process's CPU time, user and system, over all its threads (DuckDB's and Polars' too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Steps are short on an incremental night (most under a second): the process's CPU time is sampled
# this often, to give each step its CPU seconds.
CPU_SAMPLE_SECONDS = 0.01


def run_night(landing: Path, data: Path, instance, tags: dict | None = None) -> tuple[dg.ExecuteInProcessResult, dict, dict]:
    """One night: its result, the wall seconds of each step (and `_wall`, `_cpu` for the whole
    night), and the CPU seconds of each step (DuckDB's and Polars' threads too: a step that keeps
    both cores busy shows twice its wall time)."""
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.time(), 0, _cpu_seconds()))
            done.wait(CPU_SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu = time.monotonic(), _cpu_seconds()
    try:
        result = dg.materialize(ALL_ASSETS, resources=run_resources(landing, data, "benchmark-key"),
                                instance=instance, tags=tags)
        wall = time.monotonic() - started
    finally:
        done.set()
        sampler.join()
    if not result.success:
        raise SystemExit(f"run failed: {result.run_id}")
    steps = {}
    for record in instance.get_records_for_run(result.run_id).records:
        event = record.event_log_entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            steps.setdefault(event.step_key, [record.event_log_entry.timestamp, None])
        elif event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key][1] = record.event_log_entry.timestamp
    done_steps = {k: v for k, v in steps.items() if v[1] is not None}
    seconds = {k: round(end - start, 2) for k, (start, end) in done_steps.items()}
    step_cpu = {k: round(cpu_between(samples, start, end), 2) for k, (start, end) in done_steps.items()}
    seconds["_wall"] = round(wall, 2)
    # CPU time moves less than wall time on a shared machine: another tenant's load slows the
    # night's wall clock, not the work it does.
    seconds["_cpu"] = round(_cpu_seconds() - cpu, 2)
    return result, seconds, step_cpu


def delivered_changes(before: Path, after: Path) -> dict[str, int]:
    """The staged records (one per source record) new, changed and deleted from the data folder
    `before` to `after`, by what the sources delivered: a record is changed when its delivered row
    (its row hash) is another. Not linkage's count, which also counts a record whose derived values
    alone moved (a capped blocking key when its block crossed its size limit, or a flag made from
    other records) as changed, and leaves out a change to a column linkage does not read."""
    counts = {"new": 0, "changed": 0, "deleted": 0}
    for source in CONTRACTS:
        old, new = (warehouse_in(folder).read(f"staging.{source}", ["source_record_id", "_row_hash", "_row_hash_2"])
                    for folder in (before, after))
        both = old.join(new, on="source_record_id", how="full", suffix="_new", coalesce=True)
        counts["new"] += both.filter(pl.col("_row_hash").is_null()).height
        counts["deleted"] += both.filter(pl.col("_row_hash_new").is_null()).height
        counts["changed"] += both.filter(
            pl.col("_row_hash").is_not_null() & pl.col("_row_hash_new").is_not_null()
            & ((pl.col("_row_hash") != pl.col("_row_hash_new")) | (pl.col("_row_hash_2") != pl.col("_row_hash_2_new")))
        ).height
    return counts


def copy_night(night: Path, *copies: Path) -> None:
    """Each of `copies` made afresh a copy of the data folder `night`, and on disk before a night
    starts, as a store written by last night's run is: else the night's first checkpoint, which
    syncs the store's file, writes out the copy (0.3 s of a P2MI-only 1M night, before stop 35)."""
    for copy in copies:
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(night, copy)
    os.sync()


def _median_steps(runs: list[dict]) -> dict:
    """Per step (and for `_wall` and `_cpu`), the median of its seconds over the runs."""
    return {step: round(statistics.median(run.get(step, 0) for run in runs), 2) for step in set().union(*runs)}


def _records(data: Path) -> pl.DataFrame:
    return pl.read_parquet(data / "published" / "person_records.parquet").select(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"), "person_id"
    )


def _set_aside(inside: Path, aside: Path, hold: bool) -> bool:
    """Brings back to `inside` what an earlier run set aside, then moves `inside` to `aside` when
    `hold`. Returns whether it is set aside now."""
    if aside.exists() and not inside.exists():
        aside.rename(inside)
    if hold and inside.exists():
        aside.parent.mkdir(parents=True, exist_ok=True)
        inside.rename(aside)
        return True
    return False


def _hold_back(landing: Path, held: Path, delivering: set[str]) -> list[str]:
    """Moves night 2's delivery of every source not in `delivering` out of the landing folder (and
    back whatever an earlier run held back), so that the newest delivery of those sources is night
    1's, already ingested. Returns the sources held back."""
    night2 = (NIGHT1_DATE + timedelta(days=1)).isoformat()
    return [source for source in CONTRACTS
            if _set_aside(landing / source / night2, held / source / night2, source not in delivering)]


def _hold_back_truth(landing: Path, held: Path, hold: bool) -> None:
    """Moves the ground-truth folder out of the landing folder when `hold`, back into it when not."""
    _set_aside(landing / "_truth", held / "_truth", hold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--workdir", type=Path, default=None, help="kept when given; a temporary folder otherwise")
    parser.add_argument("--reuse", action="store_true",
                        help="with --workdir: keep its generated nights and night 1, run night 2 only")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run night 2 incrementally and as a full rebuild this many times, in turns "
                        "(the first of each pair alternating), and print the median of each figure: a "
                        "shared machine's speed moved one night by 10%% between two runs of the same code")
    parser.add_argument("--without-truth", action="store_true",
                        help="night 2 without the synthetic ground truth, as a ministry's night runs: "
                        "the quality report, which measures only against a truth file, has nothing to do")
    parser.add_argument("--deliver", default=",".join(CONTRACTS),
                        help="comma-separated sources that deliver on night 2 (default: all four); the "
                        "others' night-2 deliveries are held back, as on a night DTSEN does not deliver")
    args = parser.parse_args(argv)
    logging.getLogger("splink").setLevel(logging.ERROR)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="padu-bench-"))
    landing, night1 = root / "landing", root / "night1"
    instance = dg.DagsterInstance.ephemeral()

    reuse = args.reuse and args.workdir is not None and (night1 / "published").is_dir()
    if not reuse:
        t = time.monotonic()
        generate_night(landing, 1, persons=args.persons, nights=2, change_share=args.change_share,
                       first_date=NIGHT1_DATE)
        print(f"generated night 1 in {time.monotonic() - t:.0f} s")
        _, first, _ = run_night(landing, night1, instance)
        print(f"night 1 (full, trains the model): {first['_wall']} s")
        t = time.monotonic()
        generate_night(landing, 2, persons=args.persons, nights=2, change_share=args.change_share,
                       first_date=NIGHT1_DATE)
        print(f"generated night 2 in {time.monotonic() - t:.0f} s")

    held = _hold_back(landing, root / "held-back", set(args.deliver.split(",")))
    _hold_back_truth(landing, root / "held-back", args.without_truth)
    if held:
        print(f"night 2 without the deliveries of {', '.join(held)} (held back)")
    incremental, full = root / "night2-incremental", root / "night2-full"
    runs: list[tuple[dict, dict]] = []
    for turn in range(max(args.repeat, 1)):
        copy_night(night1, incremental, full)
        if turn % 2 == 0:
            _, inc_s, inc_c = run_night(landing, incremental, instance)
            _, full_s, _ = run_night(landing, full, instance, tags={FULL_REBUILD_TAG: "true"})
        else:
            _, full_s, _ = run_night(landing, full, instance, tags={FULL_REBUILD_TAG: "true"})
            _, inc_s, inc_c = run_night(landing, incremental, instance)
        runs.append((inc_s, full_s, inc_c))
        if args.repeat > 1:
            print(f"turn {turn + 1}: incremental / full = {inc_s['_wall']} / {full_s['_wall']} s = "
                  f"{inc_s['_wall'] / full_s['_wall']:.1%} (CPU {inc_s['_cpu'] / full_s['_cpu']:.1%})")
    inc_s, full_s, inc_c = (_median_steps([run[side] for run in runs]) for side in (0, 1, 2))

    state = warehouse_in(incremental).read("linkage.state").row(0, named=True)
    changes = warehouse_in(incremental).read("linkage.record_changes")
    delivered = delivered_changes(night1, incremental)
    before, after_inc, after_full = _records(night1), _records(incremental), _records(full)
    same = after_inc.join(after_full, on="record_key", suffix="_full")
    # The same persons (as sets of records) in both: a new id hashes the run id, so compare groups.
    def groups(frame: pl.DataFrame) -> set[frozenset]:
        return {frozenset(k) for k in frame.group_by("person_id").agg("record_key")["record_key"].to_list()}
    equal = groups(after_inc) == groups(after_full)
    touched = set(changes["record_key"].to_list())
    both = before.join(after_inc, on="record_key", suffix="_now")
    # Touched persons: last night's persons of changed or deleted records, tonight's of new or changed.
    hit_ids = set(before.filter(pl.col("record_key").is_in(list(touched)))["person_id"].to_list()) | set(
        after_inc.filter(pl.col("record_key").is_in(list(touched)))["person_id"].to_list())
    untouched = both.filter(~pl.col("person_id").is_in(list(hit_ids)) & ~pl.col("person_id_now").is_in(list(hit_ids)))
    stable = (untouched["person_id"] == untouched["person_id_now"]).mean()
    kept_all = (both["person_id"] == both["person_id_now"]).mean()

    linkage_inc = sum(inc_s.get(s, 0) for s in LINKAGE_STEPS)
    linkage_full = sum(full_s.get(s, 0) for s in LINKAGE_STEPS)
    print(f"\npersons {args.persons:,}; records tonight {after_inc.height:,}; as delivered: new {delivered['new']:,}, "
          f"changed {delivered['changed']:,}, deleted {delivered['deleted']:,} "
          f"({sum(delivered.values()) / after_inc.height:.2%} of the records)")
    print(f"as linkage saw them: new {state['records_new']:,}, changed {state['records_changed']:,}, deleted "
          f"{state['records_deleted']:,}, capped blocking keys alone moved {state.get('records_rekeyed') or 0:,}; "
          f"pairs scored tonight {state['pairs_scored']:,}")
    # The incremental night's CPU seconds per step, and the cores it kept busy (CPU over wall): a
    # step near the machine's core count is short of work to cut, not of parallelism.
    print(f"{'step':<36}{'full rebuild s':>16}{'incremental s':>16}{'incremental CPU s':>19}{'cores':>7}")
    for step in sorted(set(full_s) | set(inc_s), key=lambda s: (s.startswith("_"), -inc_s.get(s, 0))):
        cpu = inc_c.get(step, inc_s["_cpu"] if step == "_wall" else None)
        cores = f"{cpu / inc_s[step]:.2f}" if cpu is not None and inc_s.get(step) else ""
        print(f"{step:<36}{full_s.get(step, 0):>16}{inc_s.get(step, 0):>16}"
              f"{'' if cpu is None else cpu:>19}{cores:>7}")
    print(f"linkage (model, pairs, clusters, ids): incremental / full = {linkage_inc:.1f} / {linkage_full:.1f} s "
          f"= {linkage_inc / linkage_full:.1%}")
    if len(runs) > 1:
        ratios = sorted(i["_wall"] / f["_wall"] for i, f, _ in runs)
        print(f"whole night over {len(runs)} turns: incremental / full = " + ", ".join(f"{r:.1%}" for r in ratios)
              + f"; median {statistics.median(ratios):.1%}; the figures above and below are medians")
    print(f"whole night: incremental / full = {inc_s['_wall']} / {full_s['_wall']} s = {inc_s['_wall'] / full_s['_wall']:.1%}")
    after = after_publish_steps()
    until_inc = inc_s["_wall"] - sum(inc_s.get(step, 0) for step in after)
    until_full = full_s["_wall"] - sum(full_s.get(step, 0) for step in after)
    print(f"ingest to publish (without the steps after it: {', '.join(after)}): incremental / full = "
          f"{until_inc:.1f} / {until_full:.1f} s = {until_inc / until_full:.1%}")
    print(f"whole night, CPU seconds: incremental / full = {inc_s['_cpu']} / {full_s['_cpu']} s = "
          f"{inc_s['_cpu'] / full_s['_cpu']:.1%}")
    print(f"same persons as the full rebuild: {equal}; records compared {same.height:,}")
    print(f"untouched records keeping their person_id: {stable:.4%} of {untouched.height:,}; "
          f"all records present both nights: {kept_all:.4%} of {both.height:,}")
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
