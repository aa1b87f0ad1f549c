"""Faults: a run killed while writing batches, and runs that write at the same time."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from platform_assets.predict_age.logic.generator import generate_snapshot
from platform_core.periods import Quarter
from tests.conftest import QUARTER
from tests.predict_age.helpers import definitions, run_quarter
from tests.predict_age.test_quarter_end_to_end import CONTENT_HASH

REPO = Path(__file__).resolve().parent.parent


def env_for(layout, home) -> dict:
    return {**os.environ, "PLATFORM_DATA_DIR": str(layout.root), "DAGSTER_HOME": str(home), "PLATFORM_SENSORS": "off"}


def final_hash(layout, label="2025q3"):
    with duckdb.connect(str(layout.catalog), read_only=True) as con:
        return con.execute(CONTENT_HASH.replace("2025q3", label)).fetchone()


def test_a_run_killed_mid_batches_recovers_to_the_undisturbed_table(data_layout, instance, tmp_path):
    crashed = data_layout.__class__.at(tmp_path / "crashed")
    shutil.copytree(data_layout.root, crashed.root)
    run_quarter(QUARTER, instance, definitions(data_layout))
    reference = final_hash(data_layout)

    home = Path(instance.root_directory)
    proc = subprocess.Popen([sys.executable, "-m", "platform_assets.run", "--job", "predict_age", "--partition", "2025q3", "--rows", "20000"],
                            cwd=REPO, env=env_for(crashed, home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    batches = crashed.table("predict_age", "prediction_batches", QUARTER)
    deadline = time.time() + 120
    while not (batches / "batch-002.parquet").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for done in batches.glob("batch-*.parquet"):  # whatever is in place is whole
        assert duckdb.connect().execute(f"SELECT count(*) FROM '{done}'").fetchone()[0] > 0
    assert not crashed.catalog.exists()  # nothing was published

    run_quarter(QUARTER, instance, definitions(crashed))
    assert final_hash(crashed) == reference
    assert not list(crashed.root.rglob(".*.tmp-*"))


SCRIPT = """
import sys, dagster as dg
from platform_assets.definitions import defs
job, key = sys.argv[1], sys.argv[2]
if "|" in key:
    batch, quarter = key.split("|")
    key = dg.MultiPartitionKey({"batch": batch, "quarter": quarter})
with dg.DagsterInstance.get() as instance:
    ok = defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=key, raise_on_error=False).success
sys.exit(0 if ok else 1)
"""


def test_concurrent_runs_of_two_quarters_and_batches_never_collide(data_layout, instance):
    q2 = Quarter.parse("2025q2")
    generate_snapshot(data_layout.landing("predict_age", q2), data_layout.truth("predict_age", q2), q2, 10_000, seed=3)
    defs = definitions(data_layout)
    for quarter in (q2, QUARTER):
        run_quarter(quarter, instance, defs)
    home = Path(instance.root_directory)
    launches = [("predict_age_publish", q2.partition_key), ("predict_age_publish", QUARTER.partition_key),
                ("predict_age_batches", f"000|{QUARTER.partition_key}"), ("predict_age_batches", f"001|{QUARTER.partition_key}"),
                ("predict_age_batches", f"002|{q2.partition_key}")]
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, job, key], cwd=REPO, env=env_for(data_layout, home),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for job, key in launches]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    failures = [(launches[i], out[-2000:]) for i, (p, out) in enumerate(zip(procs, outputs)) if p.returncode != 0]
    assert not failures, json.dumps(failures, indent=1)
    assert not any("Could not set lock" in out for out in outputs)
    assert final_hash(data_layout)[0] == 20_000
    assert final_hash(data_layout, "2025q2")[0] == 10_000
