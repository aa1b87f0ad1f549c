"""The `s3` deployment shape on real servers: a quarter on SeaweedFS's S3 API with Dagster's
instance in PostgreSQL, compared row by row with the same quarter on local disk; atomic
publication on an object store; the snapshot sensor watching the S3 prefix."""

import json
import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from platform_assets.common import JOB
from platform_assets.jobs import PUBLISH
from platform_assets.run_quarter import run_quarter
from platform_assets.sensors import predict_age_snapshot_sensor
from platform_core import duck
from platform_core.generator import generate_snapshot
from platform_core.storage import CURRENT_POINTER, SUCCESS_MARKER, DataLayout, atomic_dir, current, scratch_dir
from tests.conftest import QUARTER, SMALL_ROWS
from tests.integration.conftest import BUCKET
from tests.test_quarter_end_to_end import definitions
from tests.test_sensors import tick

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
FINAL_COLUMNS = "pid, predicted_age, confidence_score, prediction_source, model_version, prediction_status"


@pytest.fixture
def s3_instance(postgres_url, s3_endpoint, tmp_path, monkeypatch):
    """A Dagster instance configured like production's `s3` shape (deploy/s3/dagster.yaml)."""
    home = tmp_path / "s3_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "s3" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    monkeypatch.setenv("PLATFORM_LOG_BUCKET", BUCKET)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def remote_layout(name: str) -> DataLayout:
    return DataLayout.at(f"s3://{BUCKET}/{name}")


def final_rows(table) -> list[tuple]:
    con = duck.connect()
    rows = con.execute(f"SELECT {FINAL_COLUMNS} FROM {duck.parquet_source(table)} ORDER BY pid").fetchall()
    con.close()
    return rows


def test_quarter_on_object_storage_matches_local_disk(s3_instance, data_layout, instance):
    remote = remote_layout("quarter")
    generate_snapshot(remote.landing(JOB, QUARTER), remote.truth(JOB, QUARTER), QUARTER, SMALL_ROWS, seed=7)
    before_scratch = set(scratch_dir().iterdir())

    on_s3 = run_quarter(QUARTER, s3_instance, definitions(remote))
    on_disk = run_quarter(QUARTER, instance, definitions(data_layout))

    assert len(on_s3["checks"]) == 15 and all(c["passed"] for c in on_s3["checks"])
    assert type(s3_instance.run_storage).__name__ == "PostgresRunStorage"
    remote_final = remote.table("final_results", QUARTER)
    assert (remote_final / CURRENT_POINTER).exists()
    rows = final_rows(current(remote_final))
    assert len(rows) == SMALL_ROWS
    assert rows == final_rows(data_layout.table("final_results", QUARTER))  # same table, row for row
    assert on_s3["stages"]["age_models"][0]["versions"] == on_disk["stages"]["age_models"][0]["versions"]
    assert set(scratch_dir().iterdir()) == before_scratch  # no local temporary left behind

    with tempfile.TemporaryDirectory() as tmp:  # the catalog is an object; its views read S3
        local_catalog = Path(tmp) / "catalog.duckdb"
        remote.catalog.fs.get_file(remote.catalog.path, str(local_catalog))
        con = duck._with_filesystems(duckdb.connect(str(local_catalog), read_only=True))
        assert con.execute("SELECT count(*) FROM predict_age_final_results_2025q3").fetchone()[0] == SMALL_ROWS
        sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'predict_age_final_results_2025q3'").fetchone()[0]
        assert f"s3://{BUCKET}/quarter/warehouse/final_results/2025q3/v-" in sql
        con.close()

    first = json.loads((remote_final / CURRENT_POINTER).read_text())["version"]
    rerun = definitions(remote).resolve_job_def(PUBLISH).execute_in_process(instance=s3_instance,
                                                                              partition_key=QUARTER.partition_key)
    assert rerun.success
    pointer = json.loads((remote_final / CURRENT_POINTER).read_text())
    assert pointer["previous"] == first and pointer["version"] != first
    assert sorted(p.name for p in remote_final.iterdir() if p.name.startswith("v-")) == sorted([first, pointer["version"]])
    assert final_rows(current(remote_final)) == rows  # re-running the partition gives the same table


def test_failed_write_leaves_the_current_version(s3_endpoint):
    target = remote_layout("atomic").table("final_results", QUARTER)
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

    first = tick(predict_age_snapshot_sensor, remote, instance)
    assert [r.partition_key for r in first.run_requests] == [QUARTER.partition_key]
    assert tick(predict_age_snapshot_sensor, remote, instance, first.cursor).run_requests == []

    time.sleep(1.1)  # object timestamps have one-second resolution
    (landing / SUCCESS_MARKER).write_text("re-delivered\n")
    again = tick(predict_age_snapshot_sensor, remote, instance, first.cursor)
    assert [r.partition_key for r in again.run_requests] == [QUARTER.partition_key]
    assert again.run_requests[0].run_key != first.run_requests[0].run_key
