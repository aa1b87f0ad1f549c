"""The `s3` deployment shape on real servers: a quarter on SeaweedFS's S3 API with Dagster's
instance in PostgreSQL, compared row by row with the same quarter on local disk; atomic
publication on an object store; the snapshot sensor watching the S3 prefix."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from platform_assets.common import latest_metadata
from platform_assets.predict_age.jobs import DAILY, PUBLISH
from platform_assets.predict_age.keys import JOB, key
from platform_assets.predict_age.logic.generator import generate_daily_arrivals, generate_snapshot
from platform_assets.predict_age.partitions import batch_partitions
from platform_assets.predict_age.sensors import snapshot_sensor
from platform_core import duck
from platform_core.periods import parse_day
from platform_core.storage import CURRENT_POINTER, SUCCESS_MARKER, DataLayout, atomic_dir, current, scratch_dir
from tests.conftest import QUARTER, SMALL_ROWS
from tests.integration.servers import BUCKET
from tests.predict_age.helpers import definitions, run_quarter
from tests.predict_age.test_sensors import tick

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
FINAL_COLUMNS = "pid, predicted_age, confidence_score, prediction_source, model_version, prediction_status"


@pytest.fixture
def s3_home(postgres_url, s3_endpoint, tmp_path, monkeypatch) -> Path:
    """DAGSTER_HOME of the `s3` shape (deploy/s3/dagster.yaml) and its variables, as `make` sets them."""
    home = tmp_path / "s3_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "s3" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    monkeypatch.setenv("PLATFORM_LOG_BUCKET", BUCKET)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # step logs are staged under it
    return home


def remote_layout(name: str) -> DataLayout:
    return DataLayout.at(f"s3://{BUCKET}/{name}")


def final_rows(table) -> list[tuple]:
    con = duck.connect()
    rows = con.execute(f"SELECT {FINAL_COLUMNS} FROM {duck.parquet_source(table)} ORDER BY pid").fetchall()
    con.close()
    return rows


def test_quarter_on_object_storage_matches_local_disk(s3_home, data_layout, instance):
    remote = remote_layout("quarter")
    before_scratch = set(scratch_dir().iterdir())
    env = {**os.environ, "PLATFORM_ENV": "s3", "PLATFORM_DATA_DIR": str(remote.root), "DAGSTER_HOME": str(s3_home),
           "PLATFORM_SENSORS": "off"}
    done = subprocess.run([sys.executable, "-m", "platform_assets.run", "--job", "predict_age", "--partition", QUARTER.label,
                           "--rows", str(SMALL_ROWS), "--seed", "7"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"view predict_age_final_results_2025q3 in s3://{BUCKET}/quarter/catalog.duckdb" in done.stdout
    on_disk = run_quarter(QUARTER, instance, definitions(data_layout))

    with dg.DagsterInstance.from_config(str(s3_home)) as s3_instance:  # what the s3 shape recorded, in PostgreSQL
        assert type(s3_instance.run_storage).__name__ == "PostgresRunStorage"
        runs = s3_instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
        assert len(runs) == 5 + len(batch_partitions.get_partition_keys()) + 3  # one run per asset and partition
        checks = [r.event_log_entry.dagster_event.event_specific_data for run in runs
                  for r in s3_instance.get_records_for_run(run.dagster_run.run_id,
                                                           of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records]
        assert len(checks) == 17 and all(c.passed or c.severity == dg.AssetCheckSeverity.WARN for c in checks)  # warnings may fail
        versions = latest_metadata(s3_instance, key("age_models"), QUARTER.partition_key)["versions"]
    assert versions == on_disk["stages"]["age_models"][0]["versions"]  # byte-identical models, same registry entries

    remote_final = remote.table("predict_age", "final_results", QUARTER)
    assert (remote_final / CURRENT_POINTER).exists()
    rows = final_rows(current(remote_final))
    assert len(rows) == SMALL_ROWS
    assert rows == final_rows(data_layout.table("predict_age", "final_results", QUARTER))  # same table, row for row
    assert set(scratch_dir().iterdir()) == before_scratch  # no local temporary left behind
    assert any(remote.root.fs.find(f"{BUCKET}/dagster-logs"))  # step logs in the object store

    with duck.read_catalog(remote.catalog) as con:  # the catalog is an object; its views read S3
        assert con.execute("SELECT count(*) FROM predict_age_final_results_2025q3").fetchone()[0] == SMALL_ROWS
        sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'predict_age_final_results_2025q3'").fetchone()[0]
        assert f"s3://{BUCKET}/quarter/warehouse/predict_age/final_results/2025q3/v-" in sql
    query = subprocess.run([sys.executable, "-m", "platform_assets.query", "--data-dir", str(remote.root),
                            "SELECT count(*) AS n FROM predict_age_final_results_2025q3"],
                           cwd=REPO, env=env, capture_output=True, text=True)
    assert query.returncode == 0 and f"{SMALL_ROWS}" in query.stdout, query.stderr

    first = json.loads((remote_final / CURRENT_POINTER).read_text())["version"]
    with dg.DagsterInstance.from_config(str(s3_home)) as s3_instance:
        rerun = definitions(remote).resolve_job_def(PUBLISH).execute_in_process(instance=s3_instance,
                                                                                  partition_key=QUARTER.partition_key)
    assert rerun.success
    pointer = json.loads((remote_final / CURRENT_POINTER).read_text())
    assert pointer["previous"] == first and pointer["version"] != first
    assert sorted(p.name for p in remote_final.iterdir() if p.name.startswith("v-")) == sorted([first, pointer["version"]])
    assert final_rows(current(remote_final)) == rows  # re-running the partition gives the same table

    day = parse_day("2025-08-15")  # a daily partition on S3: scored by the champion stored there
    generate_daily_arrivals(remote.landing(JOB, day, feed="daily"), remote.truth(JOB, day, feed="daily"), day, 2_000)
    with dg.DagsterInstance.from_config(str(s3_home)) as s3_instance:
        daily = definitions(remote).resolve_job_def(DAILY).execute_in_process(instance=s3_instance, partition_key="2025-08-15")
    assert daily.success
    with duck.read_catalog(remote.catalog) as con:
        assert con.execute("SELECT count(DISTINCT pid) FROM predict_age_daily_predictions").fetchone()[0] == 2_000


def test_failed_write_leaves_the_current_version(s3_endpoint):
    target = remote_layout("atomic").table("predict_age", "final_results", QUARTER)
    with atomic_dir(target) as tmp:
        (tmp / "part-000.parquet").write_bytes(b"first")
    good = current(target)
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "part-000.parquet").write_bytes(b"half")
        raise RuntimeError("the step died while writing")
    assert current(target) == good
    assert (good / "part-000.parquet").read_bytes() == b"first"
    assert [p.name for p in target.iterdir() if p.name.startswith("v-")] == [good.name]


def test_snapshot_sensor_watches_the_s3_prefix(s3_endpoint, instance):
    remote = remote_layout("sensor")
    landing = remote.landing(JOB, QUARTER)
    (landing.parent / "2025q2" / "part-00000.parquet").write_bytes(b"PAR1 still copying")  # no _SUCCESS yet
    generate_snapshot(landing, remote.truth(JOB, QUARTER), QUARTER, 2_000, seed=3)

    first = tick(snapshot_sensor, remote, instance)
    assert [e.partition for e in first.asset_events] == [QUARTER.partition_key]
    assert tick(snapshot_sensor, remote, instance, first.cursor).asset_events == []

    time.sleep(1.1)  # object timestamps have one-second resolution
    (landing / SUCCESS_MARKER).write_text("re-delivered\n")
    again = tick(snapshot_sensor, remote, instance, first.cursor)
    assert [e.partition for e in again.asset_events] == [QUARTER.partition_key]
    assert again.asset_events[0].tags["dagster/data_version"] != first.asset_events[0].tags["dagster/data_version"]
