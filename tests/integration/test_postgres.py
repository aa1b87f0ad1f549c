"""Dagster's instance in a real PostgreSQL server (started here, stopped after): a partitioned
materialization and several concurrent batch runs, read back from a fresh instance."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest

from platform_assets.jobs import PREPARE
from platform_assets.partitions import batch_partitions
from tests.conftest import QUARTER
from tests.test_quarter_end_to_end import definitions

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; under root, run it as the `postgres` system user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture
def postgres_url():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    assert bins, "PostgreSQL server not installed: `make test-integration` installs Debian's postgresql"
    bin_dir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="pg-"))  # outside pytest's root-only tmp, so `postgres` can enter
    data = root / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "dagster", "-A", "trust"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    port = free_port()
    server = subprocess.Popen(as_postgres_user([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                                "-h", "127.0.0.1", "-k", str(root)]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"postgresql+psycopg2://dagster@127.0.0.1:{port}/postgres"  # SQLAlchemy 2.1 would pick psycopg 3
    try:
        import psycopg2

        deadline = time.time() + 30
        while True:
            try:
                psycopg2.connect(url.replace("+psycopg2", "")).close()
                break
            except psycopg2.OperationalError:
                assert server.poll() is None and time.time() < deadline, "PostgreSQL did not start"
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


RUN_BATCH = """
import sys, dagster as dg
from platform_assets.definitions import defs
key = dg.MultiPartitionKey({"batch": sys.argv[1], "quarter": sys.argv[2]})
with dg.DagsterInstance.get() as instance:
    sys.exit(0 if defs.resolve_job_def("predict_age_batches").execute_in_process(instance=instance, partition_key=key).success else 1)
"""


def test_partitioned_runs_against_postgres_instance_storage(postgres_url, data_layout, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": postgres_url,
           "PLATFORM_DATA_DIR": str(data_layout.root), "PLATFORM_SENSORS": "off"}
    os.environ["DAGSTER_PG_URL"] = postgres_url
    try:
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
            assert all(r.event_log_entry.dagster_event.event_specific_data.passed for r in checks)
            materialized = fresh.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(["predict_age", "prediction_batches"])), limit=10).records
            assert len(materialized) == 4
    finally:
        os.environ.pop("DAGSTER_PG_URL", None)
