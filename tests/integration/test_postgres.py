"""Dagster's instance in a real PostgreSQL server (started here, stopped after): a partitioned
materialization and several concurrent batch runs, read back from a fresh instance."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from platform_assets.predict_age.jobs import PREPARE
from platform_assets.predict_age.partitions import batch_partitions
from tests.conftest import QUARTER
from tests.integration.servers import BUCKET
from tests.predict_age.helpers import definitions

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


RUN_BATCH = """
import sys, dagster as dg
from platform_assets.definitions import defs
key = dg.MultiPartitionKey({"batch": sys.argv[1], "quarter": sys.argv[2]})
with dg.DagsterInstance.get() as instance:
    sys.exit(0 if defs.resolve_job_def("predict_age_batches").execute_in_process(instance=instance, partition_key=key).success else 1)
"""


def test_partitioned_runs_against_postgres_instance_storage(postgres_url, s3_endpoint, data_layout, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "s3" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    monkeypatch.setenv("PLATFORM_LOG_BUCKET", BUCKET)  # step logs go to the S3 server, staged under DAGSTER_HOME
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PLATFORM_DATA_DIR": str(data_layout.root), "PLATFORM_SENSORS": "off"}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        prepare = definitions(data_layout).resolve_job_def(PREPARE).execute_in_process(
            instance=instance, partition_key=QUARTER.partition_key)
        assert prepare.success
    batches = batch_partitions.get_partition_keys()[:4]
    procs = [subprocess.Popen([sys.executable, "-c", RUN_BATCH, b, QUARTER.partition_key], cwd=REPO, env=env)
             for b in batches]
    assert [p.wait(timeout=300) for p in procs] == [0] * len(batches)

    with dg.DagsterInstance.from_config(str(home)) as fresh:  # read back through a new connection
        runs = fresh.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
        assert sorted(r.dagster_run.job_name for r in runs) == ["predict_age_batches"] * 4 + [PREPARE]
        batch_tags = {r.dagster_run.tags.get("dagster/partition/batch") for r in runs} - {None}
        assert batch_tags == set(batches)
        checks = fresh.get_records_for_run(prepare.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
        names = {r.event_log_entry.dagster_event.event_specific_data.check_name for r in checks}
        assert {"holdout_quality", "fairness", "usable_age_rate"} <= names
        assert all(c.passed or c.severity == dg.AssetCheckSeverity.WARN  # warnings may fail at this size
                   for c in (r.event_log_entry.dagster_event.event_specific_data for r in checks))
        materialized = fresh.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["predict_age", "prediction_batches"])), limit=10).records
        assert len(materialized) == 4
