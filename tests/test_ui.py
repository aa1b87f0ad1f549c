"""The UI as a user meets it: `dagster dev` (webserver + daemon) on a free port, driven over GraphQL."""

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

from platform_assets.definitions import JOBS
from platform_core.registry import ModelRegistry
from tests.conftest import QUARTER
from tests.instances import dagster_home

REPO = Path(__file__).resolve().parent.parent
LOCATION = {"repositoryLocationName": "batch_ml_platform", "repositoryName": "__repository__"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        assert "errors" not in payload, payload
        return payload["data"]


@pytest.fixture
def dagster_dev(tmp_path, data_layout):
    home = dagster_home(tmp_path / "ui_home")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PLATFORM_DATA_DIR": str(data_layout.root), "PLATFORM_SENSORS": "off"}
    log = open(tmp_path / "dagster_dev.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
                             "-p", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(port)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{server.url}/server_info", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "dagster_dev.log").read_text()[-3000:]
                assert time.time() < deadline, "dagster dev did not come up in 120 s"
                time.sleep(1)
        yield server
    finally:
        stop_group(proc)
        log.close()
    assert not group_alive(proc.pid)  # nothing it started is left running


def group_alive(pgid: int) -> bool:
    """A live (not zombie) process in the group: a container whose PID 1 does not reap leaves
    killed children as zombies, which signals still reach but which run nothing."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the whole session (webserver, daemon, code servers, runs), SIGKILL what lingers."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.time() + 15
    while group_alive(proc.pid) and time.time() < deadline:
        time.sleep(0.5)
    if group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(1)


def test_ui_lists_assets_checks_partitions_and_runs_a_quarter(dagster_dev, data_layout):
    workspace = dagster_dev.graphql("""{ workspaceOrError { ... on Workspace { locationEntries { name
        locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
    entries = workspace["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries] == [("batch_ml_platform", "RepositoryLocation")]

    nodes = dagster_dev.graphql("""{ assetNodes { assetKey { path } groupName isPartitioned partitionDefinition { description }
        metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name type } } } }
        assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }""")["assetNodes"]
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert {n["groupName"] for n in nodes} == {j.name for j in JOBS} | {"predict_age_daily"}
    schemas = {k: {c["name"] for e in n["metadataEntries"] if e["label"] == "dagster/column_schema" for c in e["schema"]["columns"]}
               for k, n in by_key.items()}
    assert {"pid", "predicted_age", "confidence_score", "prediction_source"} <= schemas["predict_age/final_results"]
    assert {"customer_id", "engagement_score", "engagement_tier", "churn_risk_tier"} <= schemas["engagement/engagement_scores"]
    assert {"predict_age/source_snapshot", "predict_age/age_models", "predict_age/prediction_batches",
            "predict_age/final_results", "predict_age/human_qa"} <= set(by_key)
    assert all(n["isPartitioned"] for k, n in by_key.items() if k.startswith("predict_age/"))
    final_checks = {c["name"]: c["blocking"] for c in by_key["predict_age/final_results"]["assetChecksOrError"]["checks"]}
    assert final_checks["full_coverage"] and final_checks["pid_unique"]

    launched = dagster_dev.graphql("""mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {"params": {"selector": {**LOCATION, "jobName": "predict_age_prepare"},
                    "executionMetadata": {"tags": [{"key": "dagster/partition", "value": QUARTER.partition_key}]}}})
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["launchRun"]["run"]["runId"]

    deadline = time.time() + 240
    status = None
    while time.time() < deadline:
        status = dagster_dev.graphql("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                                     {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"

    checks = dagster_dev.graphql("""{ assetNodeOrError(assetKey: {path: ["predict_age", "age_models"]}) {
        ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name blocking
            executionForLatestMaterialization { runId status evaluation { success severity } } } } } } } }""")
    checks = checks["assetNodeOrError"]["assetChecksOrError"]["checks"]
    executions = {c["name"]: c["executionForLatestMaterialization"] for c in checks}
    assert {"holdout_quality", "fairness", "interval_calibration", "fairness_conclusive"} <= set(executions)
    assert all(e["runId"] == run_id for e in executions.values())
    # every blocking check passed; a non-blocking one may fail only as a warning (fairness_conclusive, gates_conclusive at 20,000 rows)
    assert all(executions[c["name"]]["evaluation"]["success"] for c in checks if c["blocking"])
    assert all(e["evaluation"]["success"] or e["evaluation"]["severity"] == "WARN" for e in executions.values())
    assert ModelRegistry(data_layout.models).champion_history("predict_age")

    counts = dagster_dev.graphql("""{ assetNodeOrError(assetKey: {path: ["predict_age", "source_snapshot"]}) {
        ... on AssetNode { latestMaterializationByPartition(partitions: ["%s"]) {
            metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }""" % QUARTER.partition_key)
    entries = counts["assetNodeOrError"]["latestMaterializationByPartition"][0]["metadataEntries"]
    assert {e["label"]: e.get("intValue") for e in entries}["dagster/row_count"] == 20_000  # the UI's row count
