"""The nightly job as the operator runs it (`python -m pipelines.run_nightly` in its own process),
killed with SIGKILL mid-way, re-run while an analyst's process holds the published database open,
and every trace it leaves (Dagster event log and run logs, run output, published store) scanned
for the personal data of its input.

One scenario, in order:
1. a first run publishes (the baseline);
2. a run killed once the linkage has started;
3. a run killed in the middle of its publish (its half-built version is on disk);
4. a run while a reader process holds `published/padu.duckdb` open and queries it in a loop.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.publish.store import FORBIDDEN_COLUMNS, VERSIONS_DIR
from assets.sources.contracts import CONTRACTS
from assets.sources.deliveries import scan_source
from assets.sources.readers import FILE, ROW_NUMBER, read_delivery_file
from assets.standardise.dates import parse_date
from synthetic.generator import generate_deliveries

REPO = Path(__file__).resolve().parents[2]
PERSONS = 200
KEY = ["source", "source_record_id"]

READER = """
import duckdb, json, pathlib, sys, time
path, stop, out = sys.argv[1:4]
held = duckdb.connect(path, read_only=True)  # kept open for the whole run, as a notebook would
held_runs, fresh_runs, errors, loops = set(), set(), [], 0
started = time.monotonic()
while not pathlib.Path(stop).exists() and time.monotonic() - started < 300:
    try:
        held_runs.add(held.execute("SELECT run_id FROM run_info").fetchone()[0])
        held.execute("SELECT count(*), count(DISTINCT person_id) FROM persons").fetchone()
        fresh = duckdb.connect(path, read_only=True)  # a new connection sees the newest version
        fresh_runs.add(fresh.execute("SELECT run_id FROM run_info").fetchone()[0])
        fresh.close()
    except Exception as exc:
        errors.append(repr(exc))
    loops += 1
    time.sleep(0.02)
pathlib.Path(out).write_text(json.dumps(
    {"held": sorted(held_runs), "fresh": sorted(fresh_runs), "errors": errors, "loops": loops}))
"""


class Night:
    def __init__(self, root: Path):
        self.root = root
        self.landing = root / "landing"
        self.data = root / "data"
        self.published = self.data / "published"
        self.home = self.data / "dagster"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PADU_", "DAGSTER_"))}
        self.env.update(PADU_LANDING_DIR=str(self.landing), PADU_DATA_DIR=str(self.data),
                        PADU_PSEUDONYM_KEY="test-key-for-the-unattended-night")
        self.outputs: list[Path] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        out, err = self.root / f"{name}.out", self.root / f"{name}.err"
        self.outputs += [out, err]
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.run_nightly", *args], cwd=REPO, env=self.env,
            stdout=out.open("wb"), stderr=err.open("wb"),
        )

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def snapshot(self) -> dict[str, bytes]:
        """Every published file, byte for byte, and where the link points."""
        files = {p.name: p.read_bytes() for p in sorted(self.published.iterdir())}
        files["<link>"] = os.readlink(self.published).encode()
        return files


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended (code {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def step_started(instance: dg.DagsterInstance, run_ids_before: set[str], prefix: str):
    def started() -> bool:
        runs = [r for r in instance.get_runs() if r.run_id not in run_ids_before]
        if not runs:
            return False
        events = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START)
        return any(e.step_key.startswith(prefix) for e in events)
    return started


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    n = Night(tmp_path_factory.mktemp("unattended"))
    generate_deliveries(n.landing, persons=PERSONS, progress=False)
    runs = {}

    first = n.start("1-baseline")
    assert first.wait(timeout=300) == 0, (n.root / "1-baseline.err").read_text()[-3000:]
    runs["baseline"] = {"snapshot": n.snapshot(), "tables": published_tables(n.published)}
    instance = n.instance()

    # 2. Killed once the linkage has started (ingest and staging already rewrote the working store).
    before = {r.run_id for r in instance.get_runs()}
    process = n.start("2-killed-in-linkage")
    wait_for(step_started(instance, before, "linkage__"), process, "the linkage started")
    kill(process)
    runs["killed_in_linkage"] = {"run_id": newest_run(instance, before), "snapshot": n.snapshot()}

    # 3. Killed in the middle of its publish: its version folder is being written.
    before = {r.run_id for r in instance.get_runs()}
    process = n.start("3-killed-in-publish")
    versions = n.data / VERSIONS_DIR
    wait_for(lambda: any(versions.glob(".incoming-*")), process, "the publish started")
    kill(process)
    runs["killed_in_publish"] = {
        "run_id": newest_run(instance, before), "snapshot": n.snapshot(),
        "leftovers": sorted(p.name for p in versions.glob(".incoming-*")),
    }

    # 4. The next run, with an analyst's process reading the published database throughout.
    stop, report = n.root / "reader.stop", n.root / "reader.json"
    (n.root / "reader.py").write_text(READER)
    reader = subprocess.Popen([sys.executable, str(n.root / "reader.py"), str(n.published / "padu.duckdb"),
                               str(stop), str(report)], cwd=n.root)
    time.sleep(1.0)  # the reader has the old version open before the run starts
    before = {r.run_id for r in instance.get_runs()}
    started = time.monotonic()
    last = n.start("4-next-run")
    code = last.wait(timeout=300)
    runs["next"] = {
        "code": code, "seconds": time.monotonic() - started, "run_id": newest_run(instance, before),
        "tables": published_tables(n.published),
        "leftovers": sorted(p.name for p in versions.glob(".incoming-*")),
    }
    time.sleep(0.5)  # the reader sees the new version on a fresh connection
    stop.write_text("")
    assert reader.wait(timeout=60) == 0
    runs["reader"] = json.loads(report.read_text())

    # 5. The operator asks for a full rebuild on the command line.
    before = {r.run_id for r in instance.get_runs()}
    rebuild = n.start("5-full-rebuild", "--full-rebuild")
    runs["full_rebuild"] = {"code": rebuild.wait(timeout=300), "run_id": newest_run(instance, before),
                            "tables": published_tables(n.published)}
    runs["full_rebuild"]["tags"] = instance.get_run_by_id(runs["full_rebuild"]["run_id"]).tags
    runs["statuses"] = {name: instance.get_run_by_id(runs[name]["run_id"]).status
                        for name in ("killed_in_linkage", "killed_in_publish", "next", "full_rebuild")}
    runs["failure_messages"] = {
        name: [e.message for e in instance.all_logs(runs[name]["run_id"], of_type=dg.DagsterEventType.RUN_FAILURE)]
        for name in ("killed_in_linkage", "killed_in_publish")
    }
    instance.dispose()
    n.runs = runs
    return n


def newest_run(instance: dg.DagsterInstance, before: set[str]) -> str:
    [run] = [r for r in instance.get_runs() if r.run_id not in before]
    return run.run_id


def published_tables(published: Path) -> dict[str, pl.DataFrame]:
    return {t: pl.read_parquet(published / f"{t}.parquet") for t in ("persons", "person_records", "run_info")}


def test_a_run_killed_during_linkage_leaves_the_published_store_as_it_was(night):
    assert night.runs["killed_in_linkage"]["snapshot"] == night.runs["baseline"]["snapshot"]


def test_a_run_killed_during_its_publish_leaves_the_published_store_as_it_was(night):
    killed = night.runs["killed_in_publish"]
    # The kill came mid-publish: the run's half-built version was still on disk...
    assert killed["leftovers"] == [f".incoming-{killed['run_id']}"]
    # ...and the analysts' store is byte for byte the one before.
    assert killed["snapshot"] == night.runs["baseline"]["snapshot"]


def test_the_next_run_completes_cleans_up_and_marks_the_killed_runs_failed(night):
    runs = night.runs
    assert runs["next"]["code"] == 0, (night.root / "4-next-run.err").read_text()[-3000:]
    assert runs["next"]["leftovers"] == []
    assert runs["next"]["tables"]["run_info"]["run_id"].to_list() == [runs["next"]["run_id"]]
    assert runs["statuses"] == {"killed_in_linkage": dg.DagsterRunStatus.FAILURE,
                                "killed_in_publish": dg.DagsterRunStatus.FAILURE,
                                "next": dg.DagsterRunStatus.SUCCESS, "full_rebuild": dg.DagsterRunStatus.SUCCESS}
    for messages in runs["failure_messages"].values():
        assert len(messages) == 1 and "is gone: it was killed or crashed" in messages[0]
    # Only the current version and the one before it stay.
    assert len(list((night.data / VERSIONS_DIR).iterdir())) == 2
    assert "linkage: incremental (same rules and model as the last linkage)" in (night.root / "4-next-run.out").read_text()


def test_a_full_rebuild_asked_on_the_command_line_reads_and_links_everything_again(night):
    rebuild, baseline = night.runs["full_rebuild"], night.runs["baseline"]["tables"]
    out = (night.root / "5-full-rebuild.out").read_text()
    assert rebuild["code"] == 0, (night.root / "5-full-rebuild.err").read_text()[-3000:]
    assert rebuild["tags"].get("padu/full_rebuild") == "true" and "padu/retrain" not in rebuild["tags"]
    assert rebuild["tables"]["run_info"]["linkage_mode"].to_list() == ["full"]
    assert "linkage: full (full rebuild requested)" in out
    assert "already ingested" not in out  # every delivery read again
    # The same deliveries, linked from scratch: the same persons, who keep their ids.
    assert rebuild["tables"]["person_records"].sort(KEY).equals(baseline["person_records"].sort(KEY))
    assert rebuild["tables"]["persons"].sort("person_id").equals(baseline["persons"].sort("person_id"))


def test_the_same_night_again_publishes_the_same_persons_and_ids(night):
    before, after = night.runs["baseline"]["tables"], night.runs["next"]["tables"]
    assert before["person_records"].sort(KEY).equals(after["person_records"].sort(KEY))
    assert before["persons"].sort("person_id").equals(after["persons"].sort("person_id"))
    assert before["person_records"].height > 0
    # The same deliveries: read by the first run only, and the operator is told so.
    assert "already ingested" not in (night.root / "1-baseline.out").read_text()
    assert (night.root / "4-next-run.out").read_text().count("(already ingested: kept)") == 4


def test_a_reader_process_holding_the_database_open_never_fails_or_blocks_the_run(night):
    reader, runs = night.runs["reader"], night.runs
    assert reader["errors"] == []
    assert reader["loops"] > 20
    baseline_run = runs["baseline"]["tables"]["run_info"]["run_id"][0]
    assert reader["held"] == [baseline_run]  # the open connection kept its version throughout
    assert runs["next"]["run_id"] in reader["fresh"]  # a new connection saw the new one
    assert runs["next"]["seconds"] < 120  # not held up by the reader (a lock wait alone is ~100 s)


# --- personal data: nothing of the input in the event log, run logs, run output or published store


def input_personal_data(landing: Path) -> dict[str, set[str]]:
    """Every NIK and other identifier, name and birth date of the input, as upper-case text."""
    ids, names, dates = set(), set(), set()
    for contract in CONTRACTS.values():
        for delivery in scan_source(landing, contract.name)[0]:
            for path in delivery.data_files:
                frame, _ = read_delivery_file(path, path.name, contract)
                for column in frame.columns:
                    if column in (FILE, ROW_NUMBER):
                        continue
                    values = [v.strip().upper() for v in frame[column].drop_nulls().to_list() if v.strip()]
                    if column.startswith(("nik", "no_kk", "no_paspor", "no_splp", "no_hp", "nisn")):
                        for v in values:
                            digits = re.sub(r"[^0-9A-Z]", "", v.split("E+")[0] if "E+" in v else v)
                            if len(digits) >= 8 and not re.fullmatch(r"0+", digits):
                                ids.add(digits)
                    elif column.startswith("nama") and column not in ("nama_sekolah", "nama_p3mi"):
                        names.update(v for v in values if len(v) >= 4)
                    elif column == "tanggal_lahir":
                        parsed = pl.select(parse_date(pl.lit(pl.Series(values)), delivery.delivery_date)).to_series()
                        for typed, day in zip(values, parsed.to_list()):
                            if day is not None:
                                dates.update(_date_texts(day))
                                if not typed.isdigit():  # as typed too (a serial number is just a count)
                                    dates.add(typed)
    return {"identifier": ids, "name": names, "birth date": dates}


MONTHS = ["JANUARI", "FEBRUARI", "MARET", "APRIL", "MEI", "JUNI", "JULI", "AGUSTUS", "SEPTEMBER",
          "OKTOBER", "NOVEMBER", "DESEMBER"]


def _date_texts(day: date) -> set[str]:
    return {day.strftime("%Y-%m-%d"), day.strftime("%d-%m-%Y"), day.strftime("%d/%m/%Y"),
            day.strftime("%Y/%m/%d"), f"{day.day} {MONTHS[day.month - 1]} {day.year}"}


def _sqlite_text(path: Path) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def _duckdb_text(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        parts = []
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            frame = con.sql(f'SELECT * FROM "{table}"').pl()
            assert not FORBIDDEN_COLUMNS.intersection(c.lower() for c in frame.columns), (path, table)
            parts.append(frame.write_csv())
        return "\n".join(parts)
    finally:
        con.close()


def file_text(path: Path) -> str:
    head = path.read_bytes()[:16]
    if head.startswith(b"SQLite format 3"):
        return _sqlite_text(path)
    if path.suffix == ".duckdb":
        return _duckdb_text(path)
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return frame.select(pl.all().cast(pl.String)).write_csv()
    return path.read_bytes().decode("utf-8", errors="replace")


def find_personal_data(text: str, personal: dict[str, set[str]]) -> dict[str, set[str]]:
    text = text.upper()
    tokens = set(re.findall(r"[0-9A-Z]+", text))
    found = {"identifier": personal["identifier"] & tokens}
    # Words are whole runs of letters and digits, so that a name's letters inside a hex id
    # ("...3DEDE9...") are not taken for the name.
    words = set(re.findall(r"[0-9A-Z']+", text))
    found["name"] = {
        name for name in personal["name"]
        if set(re.findall(r"[0-9A-Z']+", name)) <= words
        and re.search(rf"(?<![0-9A-Z]){re.escape(name)}(?![0-9A-Z])", text)
    }
    found["birth date"] = {d for d in personal["birth date"] if d in text}
    return {kind: values for kind, values in found.items() if values}


# Where identifying data is allowed: the working store (the DuckDB file under warehouse/ and the
# linkage's working files beside it, see PRIVACY.md), the key, and the landing folder itself.
WORKING_AREAS = ("warehouse", "models", "review", "secrets")


def traces(night) -> list[Path]:
    files = [p for p in night.data.rglob("*") if p.is_file()
             and p.relative_to(night.data).parts[0] not in WORKING_AREAS]
    return sorted(files) + night.outputs


def test_no_input_nik_name_or_birth_date_in_logs_metadata_or_published_tables(night):
    personal = input_personal_data(night.landing)
    assert len(personal["identifier"]) > 300 and len(personal["name"]) > 150 and len(personal["birth date"]) > 500
    files = traces(night)
    kinds = {p.relative_to(night.root).parts[1] if p.is_relative_to(night.data) else "run output" for p in files}
    # The Dagster run history (event log with every log line, asset and check metadata), the run's
    # captured logs, the run output, and every published version.
    assert {"dagster", VERSIONS_DIR, "run output"} <= kinds
    assert any(p.suffix == ".err" and "compute_logs" in p.parts for p in files)
    leaks = {}
    for path in files:
        found = find_personal_data(file_text(path), personal)
        if found:
            leaks[str(path.relative_to(night.root))] = {k: sorted(v)[:5] for k, v in found.items()}
    assert leaks == {}


def test_the_scan_would_see_a_leak(night):
    personal = input_personal_data(night.landing)
    nik, name, born = (sorted(personal[k])[0] for k in ("identifier", "name", "birth date"))
    found = find_personal_data(f'{{"note": "row of {name.title()}, nik {nik}, born {born}"}}', personal)
    assert found == {"identifier": {nik}, "name": {name}, "birth date": {born}}
    # ... and not a name's letters inside a hex id (a run id, an asset's data version)
    word = next(n for n in sorted(personal["name"]) if n.isalpha())
    assert find_personal_data(f'{{"run_id": "3{word.lower()}9f0c"}}', personal) == {}


def test_metadata_in_the_event_log_is_there_to_be_scanned(night):
    # The scan above reads the event log: make sure the metadata it must cover is really in it.
    instance = night.instance()
    try:
        run_id = night.runs["next"]["run_id"]
        materializations = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        checks = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        assert len(materializations) >= 20 and len(checks) >= 12
        history = "".join(file_text(p) for p in night.home.rglob("*.db"))
        assert "quarantine_rules" in history and "invalid_values" in history and "rows_reconcile" in history
    finally:
        instance.dispose()


def test_splink_s_warnings_are_in_the_run_log_not_on_the_terminal(night):
    terminal = (night.root / "1-baseline.err").read_text() + (night.root / "1-baseline.out").read_text()
    for narration in ("You have called predict()", "not observed in dataset", "max_pairs"):
        assert narration not in terminal
    instance = night.instance()
    baseline = min(instance.get_runs(), key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
    logged = [e for e in instance.all_logs(baseline.run_id) if e.user_message.startswith("Splink: ")]
    instance.dispose()
    assert any("You have called predict()" in e.user_message for e in logged)
    assert {e.step_key for e in logged} <= {"linkage__model", "linkage__pairs", "linkage__clusters",
                                             "linkage__diagnostics", "quality__report"}
