"""Every job end to end in the `s3` shape on real servers (data root in SeaweedFS's bucket,
Dagster's instance in PostgreSQL), run exactly as `make run` runs it, against the same job on
local disk: the same catalog views, with the same rows (count and content hashes over every
column but those naming the run: its time, or a model version hashed from it; floats whose
last bits vary from run to run compared to 9 decimals). Neither run writes anywhere but its data
root, its scratch dirs and its instance: a home, a working directory and a system temp dir of
its own are left as found, and no step log is staged in /tmp.

One synthetic world per job is generated in the s3 shape and copied to local disk, so both runs
read the same delivery (heavy_queries' world holds measured query costs, which differ from one
generation to the next). A new job is one line in CASES."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import dagster as dg
import pytest
import yaml

from platform_assets.readmission.logic.model_config import DEFAULT_CONFIG_PATH
from platform_core import duck
from platform_core.storage import LIBRARY_ENV, DataLayout
from tests.integration.servers import BUCKET

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 1800


@dataclass(frozen=True)
class Case:
    job: str
    rows: int  # CI's small size (.ci/run)
    per_run: frozenset[str]  # columns holding when the run happened (or an id hashed from it): not compared
    env: dict[str, str] = field(default_factory=dict)
    partition: str = ""  # the job's default when empty
    rounded: frozenset[str] = frozenset()  # float columns compared to 9 decimals: their last bits differ between runs
    settings: Callable[[Path], dict[str, str]] = lambda _folder: {}  # more variables, from files written in a folder


def readmission_small_search(folder: Path) -> dict[str, str]:
    """The repository's model config (windows, gates, bands) with a 3-candidate, 2-fold search."""
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    config["search"].update(candidates=3, folds=2)
    path = folder / "readmission_model_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return {"READMISSION_CONFIG_FILE": str(path)}


CASES = [
    Case("predict_age", 20_000, frozenset({"qa_timestamp"})),
    Case("engagement", 6_000, frozenset({"scored_at"}), {"ENGAGEMENT_FOLDS": "2"}),  # 104 fits instead of 260
    # a model version is a hash of its files and metadata, and the metadata holds the training date
    Case("readmission", 20_000, frozenset({"scored_at", "training_date", "version", "model_version"}),
         rounded=frozenset({"readmission_probability"}), settings=readmission_small_search),
    # two months of history, not two years (7 tables x 731 daily partitions = 10,234 objects on S3, ~7 min of ETL);
    # 30 entities: a day of ~260 observations crosses 1% quarantined with a few of the world's duplicates
    # a model version hashes its training seconds (logic/training.py); the WTI is a parallel sum in DuckDB
    Case("wait_times", 300_000, frozenset({"model_version"}), {"WAIT_TIMES_MAX_QUARANTINE_RATE": "0.05"}, "2023-10-31",
         rounded=frozenset({"wti"})),
    Case("heavy_queries", 1_000, frozenset(),
         {"HEAVY_QUERIES_CORPUS": "small", "HEAVY_QUERIES_HEAVY_CPU_MS": "47",
          "HEAVY_QUERIES_HEAVY_PEAK_MEMORY_BYTES": "47000000"}),
]


@dataclass
class Sandbox:
    """A process's own home, working directory, system temp dir and scratch dirs."""

    root: Path

    def __post_init__(self) -> None:
        for name in ("home", "cwd", "tmp", "scratch", "duckdb_temp"):
            (self.root / name).mkdir(parents=True)

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.root / "home"), "TMPDIR": str(self.root / "tmp"),
                "PLATFORM_SCRATCH_DIR": str(self.root / "scratch"), "PLATFORM_DUCKDB_TEMP_DIR": str(self.root / "duckdb_temp")}

    def left_behind(self) -> dict[str, list[str]]:
        """What the process left outside its data root, scratch dirs and instance."""
        found = {name: sorted(str(p.relative_to(self.root / name)) for p in (self.root / name).rglob("*"))
                 for name in ("home", "cwd", "tmp")}
        return {name: paths for name, paths in found.items() if paths}


@dataclass
class Shape:
    """One deployment shape's data root, instance and the variables `make` would export."""

    name: str
    data_dir: str
    home: Path
    env: dict[str, str]
    sandbox: Sandbox

    def platform(self, command: str, case: Case, log: Path) -> subprocess.Popen:
        inherited = {k: v for k, v in os.environ.items() if k not in LIBRARY_ENV}  # the job sets its own
        env = {**inherited, **self.env, **self.sandbox.env, **case.env, **case.settings(log.parent), "PLATFORM_ENV": self.name,
               "PLATFORM_DATA_DIR": self.data_dir, "DAGSTER_HOME": str(self.home), "PLATFORM_SENSORS": "off",
               "ARG_JOB": case.job, "ARG_ROWS": str(case.rows), "ARG_SEED": "7", "ARG_PARTITION": case.partition}
        with log.open("w") as out:
            return subprocess.Popen([sys.executable, "-m", "platform_assets", command], cwd=self.sandbox.root / "cwd",
                                    env=env, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def started(*procs: subprocess.Popen) -> Iterator[None]:
    """Processes killed if still running when the block ends (a failure, a timeout, Ctrl-C)."""
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def finished(proc: subprocess.Popen, log: Path, what: str) -> str:
    assert proc.wait(timeout=TIMEOUT_S) == 0, f"{what} exited {proc.returncode}:\n{log.read_text()[-4000:]}"
    return log.read_text()


def shape(name: str, tmp_path: Path, data_dir: str, instance_file: Path, **env: str) -> Shape:
    home = tmp_path / f"{name}_dagster_home"
    home.mkdir()
    shutil.copy(instance_file, home / "dagster.yaml")
    return Shape(name, data_dir, home, env, Sandbox(tmp_path / f"{name}_sandbox"))


def download(remote: DataLayout, local: Path) -> None:
    """The whole data root, object by object."""
    fs, prefix = remote.root.fs, remote.root.path.rstrip("/")
    for key in fs.find(prefix):
        target = local / Path(key).relative_to(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(key, str(target))


def published(layout: DataLayout, case: Case) -> tuple[dict[str, dict[str, int]], set[str]]:
    """Every catalog view's row count and order-free content hashes (all compared columns
    together, and each alone, to name what differs); and the `per_run` columns seen."""
    content, seen = {}, set()
    with duck.read_catalog(layout.catalog) as con:
        for (view,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
            columns = [c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE {duck.ident(view)})").fetchall()]
            seen |= case.per_run & set(columns)
            compared = {c: f'round("{c}", 9)' if c in case.rounded else f'"{c}"' for c in columns if c not in case.per_run}
            hashed = {"all columns": ", ".join(compared.values()), **compared}
            sums = ", ".join(f"coalesce(sum(hash({h})::HUGEINT), 0)" for h in hashed.values())
            counted = con.execute(f"SELECT count(*), {sums} FROM {view}").fetchone()
            content[view] = dict(zip(["count(*)", *hashed], map(int, counted)))
    return content, seen


def differences(expected: dict[str, dict[str, int]], actual: dict[str, dict[str, int]]) -> dict[str, list[str]]:
    """Per view, what differs: `missing`, or the row count and the columns whose hash differs."""
    return {view: ["missing"] if view not in actual else [k for k, v in figures.items() if actual[view].get(k) != v]
            for view, figures in expected.items()} | {view: ["not in the other"] for view in actual.keys() - expected.keys()}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.job)
def test_job_on_object_storage_publishes_what_local_disk_does(case, postgres_url, s3_endpoint, tmp_path, monkeypatch):
    remote = DataLayout.at(f"s3://{BUCKET}/{case.job}-{uuid.uuid4().hex[:8]}")
    s3 = shape("s3", tmp_path, str(remote.root), REPO / "deploy" / "s3" / "dagster.yaml",
               DAGSTER_PG_URL=postgres_url, PLATFORM_LOG_BUCKET=BUCKET)
    local = shape("local", tmp_path, str(tmp_path / "data"), REPO / "dagster.yaml")

    world = replace(s3, sandbox=Sandbox(tmp_path / "world_sandbox"))
    with started(generating := world.platform("generate", case, tmp_path / "generate.log")):
        generated = finished(generating, tmp_path / "generate.log", f"{case.job}: make generate in the s3 shape")
    assert str(remote.root) in generated
    download(remote, tmp_path / "data")

    logs = {sh.name: tmp_path / f"{sh.name}.log" for sh in (s3, local)}
    procs = {sh.name: sh.platform("run", case, logs[sh.name]) for sh in (s3, local)}  # side by side
    with started(*procs.values()):
        outputs = {name: finished(proc, logs[name], f"{case.job}: make run in the {name} shape") for name, proc in procs.items()}
    assert "using the delivery in" in outputs["local"] and "using the delivery in" in outputs["s3"]

    (on_disk, seen), (on_s3, _) = published(DataLayout.at(local.data_dir), case), published(remote, case)
    assert on_disk, f"{case.job} published no catalog view"
    assert seen == case.per_run  # each column left out is in a view
    assert all(figures["count(*)"] > 0 for figures in on_disk.values()), on_disk
    assert {view: what for view, what in differences(on_disk, on_s3).items() if what} == {}

    for name, value in {**s3.env, "DAGSTER_HOME": str(s3.home)}.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(s3.home)) as instance:  # what the s3 shape recorded, in PostgreSQL
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_run_records()
        assert runs and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        run_ids = [r.dagster_run.run_id for r in runs]
    left_behind = {sandbox.root.name: found for sandbox in (world.sandbox, s3.sandbox, local.sandbox)
                   if (found := sandbox.left_behind())}
    staged_logs = [run_id for run_id in run_ids if Path("/tmp", run_id).exists()]  # S3ComputeLogManager's default
    if staged_logs:
        left_behind["/tmp"] = [f"{len(staged_logs)} of {len(run_ids)} runs: /tmp/<run id>/compute_logs"]
    assert left_behind == {}, f"{case.job} wrote outside its data root, scratch dirs and instance"
