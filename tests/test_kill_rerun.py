"""Kill anywhere, run again, same result: a `make run` killed with SIGKILL while one of its steps
holds the catalog's pool slot leaves a run marked started and the slot held; the next `make run`
marks that run failed, frees the slot, completes without help and publishes what an undisturbed
run publishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from platform_assets.common import CATALOG_POOL
from tests.instances import dagster_home

REPO = Path(__file__).resolve().parents[1]

# job, size, a published view and the columns that identify its content
CASES = [
    ("predict_age", "20000", "predict_age_final_results_2025q3", "pid, predicted_age, confidence_score, prediction_source, model_version"),
    ("engagement", "4000", "engagement_scores_2025_07", "customer_id, engagement_score, engagement_tier, churn_probability, model_version"),
]


def make_run(job: str, rows: str, data: Path, home: Path) -> subprocess.Popen:
    env = {**os.environ, "PLATFORM_DATA_DIR": str(data), "DAGSTER_HOME": str(home), "PLATFORM_SENSORS": "off",
           "ARG_JOB": job, "ARG_ROWS": rows, "ARG_SEED": "7"}
    return subprocess.Popen([sys.executable, "-m", "platform_assets", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def content(data: Path, view: str, columns: str) -> tuple[int, int]:
    with duckdb.connect(str(data / "catalog.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT count(*), bit_xor(hash({columns})) FROM (SELECT {columns} FROM {view})").fetchone()


def kill_inside_pool_step(process: subprocess.Popen, home: Path, timeout_s: float = 600) -> None:
    """SIGKILL the run the moment a step holds the catalog's pool slot."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            info = instance.event_log_storage.get_concurrency_info(CATALOG_POOL)
            if info.claimed_slots:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return
            time.sleep(0.005)
    pytest.fail(f"the run ended without a step holding {CATALOG_POOL}: {process.communicate()[0][-2000:]}")


@pytest.mark.parametrize("job, rows, view, columns", CASES, ids=[c[0] for c in CASES])
def test_a_run_killed_in_a_pool_step_is_released_and_the_rerun_publishes_the_same(tmp_path, job, rows, view, columns):
    data, home = tmp_path / "data", dagster_home(tmp_path / "home")
    kill_inside_pool_step(make_run(job, rows, data, home), home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(CATALOG_POOL).claimed_slots, "the dead run holds the slot"
        assert instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))

    rerun = make_run(job, rows, data, home)
    try:
        out, _ = rerun.communicate(timeout=900)
    finally:
        rerun.kill()
    assert rerun.returncode == 0, out[-3000:]
    assert "was left started by a process that is gone" in out
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert not instance.event_log_storage.get_concurrency_info(CATALOG_POOL).claimed_slots

    clean_data, clean_home = tmp_path / "clean", dagster_home(tmp_path / "clean_home")
    clean = make_run(job, rows, clean_data, clean_home)
    out, _ = clean.communicate(timeout=900)
    assert clean.returncode == 0, out[-3000:]
    assert content(data, view, columns) == content(clean_data, view, columns)
