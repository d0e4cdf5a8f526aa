"""The Dagster UI started as `make ui` starts it lists Padu's assets and launches the nightly job,
proved through the UI's own GraphQL API on a loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from synthetic.generator import generate_deliveries

REPO = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).parent / "dagster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def ui(tmp_path):
    data = tmp_path / "data"
    generate_deliveries(data / "landing", persons=1000, progress=False)
    env = os.environ | {
        "PADU_DATA_DIR": str(data),
        "PADU_LANDING_DIR": str(data / "landing"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    home = subprocess.run(
        [sys.executable, "-m", "pipelines.instance"], cwd=REPO, env=env, capture_output=True, text=True,
        check=True,
    ).stdout.strip()
    assert home == str(tmp_path / "dagster_home")
    port = free_port()
    log = open(tmp_path / "dagster_dev.log", "w")
    process = subprocess.Popen(
        [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        # `dagster dev` started from a non-interactive shell inherits SIGINT as ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("dagster dev did not answer: " + (tmp_path / "dagster_dev.log").read_text()[-3000:])
        yield port, data
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_ui_lists_assets_and_runs_the_nightly_job(ui):
    port, data = ui
    nodes = graphql(port, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {"raw/dtsen_individu", "linkage/clusters", "published/persons", "quality/report"} <= keys
    assert {n["groupName"] for n in nodes} == {
        "raw", "staging", "linkage", "persons", "published", "quality", "housekeeping"}

    launched = graphql(
        port,
        """mutation Launch($params: ExecutionParams!) {
             launchRun(executionParams: $params) {
               __typename
               ... on LaunchRunSuccess { run { runId } }
               ... on PythonError { message }
             }
           }""",
        {"params": {"selector": {"repositoryLocationName": "padu", "repositoryName": "__repository__",
                                 "jobName": "nightly"}, "runConfigData": {}}},
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = graphql(port, 'query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }',
                         {"id": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(2)
    assert status == "SUCCESS"
    assert (data / "published" / "padu.duckdb").exists()
    assert (data / "published" / "persons.parquet").exists()
