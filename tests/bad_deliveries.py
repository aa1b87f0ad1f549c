"""The bad-delivery harness of tests/test_bad_deliveries.py: a small delivery of any job, broken
in one way, run through the assets of the job's first stage that read the landing folder, as
`make run` runs them (the delivery recorded on the landing asset, then one in-process run on a
real SQLite instance). Nothing here names a job: the files, columns and row counts come from the
delivered Parquet itself, so a new job in JOBS gets every case."""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from platform_assets.common import latest_metadata
from platform_assets.definitions import build_definitions
from platform_assets.job import PlatformJob
from platform_assets.run import JobRunFailed, execute, record_delivery, stages
from platform_core.storage import SUCCESS_MARKER, DataLayout
from resources import Warehouse

# Rows asked of each job's generator: the smallest that still gives its first stage a normal day
# (engagement: 2,500 labelled customers, so a few set aside leave its minimum of 2,000 met).
# wait_times keeps at least 30 entities whatever the rows (300,000 is already 30); heavy_queries'
# rows are per day of its 44-day log, on the small corpus with thresholds that suit it.
ROWS = {"predict_age": 2_000, "engagement": 2_500, "readmission": 5_000, "wait_times": 300_000, "heavy_queries": 100}
DEFAULT_ROWS = 2_000  # at most, for a job not listed above
ENV = {"HEAVY_QUERIES_CORPUS": "small", "HEAVY_QUERIES_HEAVY_CPU_MS": "47", "HEAVY_QUERIES_HEAVY_PEAK_MEMORY_BYTES": "47000000"}
EXTRA_NAME = "notes part 2.parquet"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \".*\", line \d+", re.MULTILINE)


@contextmanager
def environment(values: dict[str, str]):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield


@dataclass
class World:
    """One job's generated data directory, copied for each case (never run on itself)."""
    job: PlatformJob
    root: Path
    partition: str
    config: dg.ConfigurableResource

    @classmethod
    def generate(cls, job: PlatformJob, root: Path) -> "World":
        partition = job.partition_key(job.default_partition)
        with environment(ENV):
            job.generate(DataLayout.at(root), partition, ROWS.get(job.name, min(job.default_rows, DEFAULT_ROWS)), 7)
            config = job.config()
        return cls(job, root, partition, config)

    def copy(self, dest: Path) -> DataLayout:
        """The world without the landing area's other partitions (the first stage reads its own)."""
        area, keep = self.job.landing_path(DataLayout.at(self.root), self.partition).parent, self.landing(self.root).name
        shutil.copytree(self.root, dest, ignore=lambda d, names: [n for n in names if n != keep] if Path(d) == area else [])
        return DataLayout.at(dest)

    def landing(self, root: Path) -> Path:
        return Path(self.job.landing_path(DataLayout.at(root), self.partition))


def data_files(folder: Path) -> list[Path]:
    """The delivery's Parquet files (names starting with `.` or `_` are not data)."""
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith((".", "_")))


def largest(folder: Path) -> Path:
    return max(data_files(folder), key=lambda p: (p.stat().st_size, p.name))


def fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every file under the delivery folder (and its sub-folders), by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(folder.rglob("*"))}


def key_columns(table: pa.Table) -> list[str]:
    """The delivery's key: the shortest leading run of columns whose values identify the rows, but
    for the few duplicates a delivery may hold (at least 99% distinct)."""
    names = table.column_names
    for n in range(1, len(names)):
        if table.group_by(names[:n]).aggregate([]).num_rows >= 0.99 * table.num_rows:
            return names[:n]
    return names[:1]


def floating_columns(table: pa.Table) -> list[str]:
    return [f.name for f in table.schema if pa.types.is_floating(f.type)]


# --- the breaks: each changes the delivery folder in one way and says what an answer must name --

@dataclass
class Break:
    names: list[str]  # an answer refusing the delivery names one of these (file, column or folder)
    must_refuse: bool = False  # nothing of it can be read: no rows may be accepted
    extra_rows: int = 0  # rows added to the delivery, which an accepting run must have read
    column: str | None = None  # the column broken, which an accepting run must name
    planted: list[float] = field(default_factory=list)  # values that must be counted and kept out of the tables


def csv_text(folder: Path) -> Break:
    path = largest(folder)
    table = pq.read_table(path)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table.slice(0, 50), sink)
    path.write_bytes(sink.getvalue().to_pybytes())
    return Break([path.name], must_refuse=True)


def truncated(folder: Path) -> Break:
    path = largest(folder)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return Break([path.name], must_refuse=True)


def extra_file(folder: Path) -> Break:
    path = largest(folder)
    shutil.copyfile(path, folder / EXTRA_NAME)
    return Break([EXTRA_NAME], extra_rows=pq.ParquetFile(path).metadata.num_rows)


def dropped_column(folder: Path) -> Break | None:
    """The first non-key column of the largest file removed (None: it has no such column)."""
    path = largest(folder)
    table = pq.read_table(path)
    keys = key_columns(table)
    column = next((c for c in table.column_names if c not in keys), None)
    if column is None:
        return None
    pq.write_table(table.drop_columns([column]), path)
    return Break([column], column=column)


def huge_and_infinite(folder: Path) -> Break | None:
    """The first floating column of the largest file: 1e308 in one row, inf in another (None: no such column)."""
    path = largest(folder)
    table = pq.read_table(path)
    columns = floating_columns(table)
    if not columns or table.num_rows < 2:
        return None
    column = columns[0]
    values = table.column(column).to_pylist()
    values[0], values[1] = 1e308, math.inf
    index = table.column_names.index(column)  # a FLOAT column becomes DOUBLE: 1e308 is no float32
    pq.write_table(table.set_column(index, column, pa.array(values, pa.float64())), path)
    return Break([column], column=column, planted=[1e308, math.inf])


def empty(folder: Path) -> Break:
    for path in data_files(folder):
        path.unlink()
    assert [p.name for p in folder.iterdir()] == [SUCCESS_MARKER]
    return Break([f"{folder.parent.name}/{folder.name}"], must_refuse=True)  # its path: its name alone is the partition's


# --- the run --------------------------------------------------------------------------------------

def landing_readers(defs: dg.Definitions, job: PlatformJob) -> list[dg.AssetKey]:
    """The first stage's assets that read the landing folder, with the assets computed in the same op."""
    graph = defs.resolve_asset_graph()
    readers = [k for k in stages(defs, job.run_selection)[0] if job.landing.key in graph.get(k).parent_keys]
    return sorted(dg.AssetSelection.assets(*readers).required_multi_asset_neighbors().resolve(graph))


# Files in which a job keeps the rows it set aside, by name: the only outputs bad values may reach.
SET_ASIDE_FILES = ("quarantine", "set_aside", "rejected", "duplicate")


@dataclass
class Outcome:
    error: str | None  # JobRunFailed's text
    metadata: dict[str, dict]  # asset -> its materialization's metadata, for those that materialized
    written: list[Path]  # Parquet files the run wrote
    touched: list[str] = field(default_factory=list)  # files of the delivery folder the run changed, added or removed

    @property
    def text(self) -> str:
        """Everything the run said: the error and the metadata, as one text."""
        return (self.error or "") + "\n" + json.dumps(self.metadata, default=str)

    @property
    def accepted(self) -> bool:
        """Rows went into a table (a blocking check may still have stopped the run after it)."""
        return any(m.get("rows_out", 0) > 0 for m in self.metadata.values())

    @property
    def outputs(self) -> list[Path]:
        return [p for p in self.written if not any(w in str(p) for w in SET_ASIDE_FILES)]

    def rows_in(self) -> dict[str, int]:
        return {k: m["rows_in"] for k, m in self.metadata.items() if isinstance(m.get("rows_in"), int)}


def break_and_run(world: World, breaker, root: Path, instance: dg.DagsterInstance) -> tuple[Break, Outcome] | None:
    """A copy of the world at `root`, its delivery broken by `breaker`, through the first stage
    (None: the break does not apply to this delivery)."""
    layout = world.copy(root)
    folder = world.landing(root)
    broken = breaker(folder)
    if broken is None:
        return None
    delivered = fingerprint(folder)
    outcome = run_first_stage(world, layout, instance)
    after = fingerprint(folder)
    outcome.touched = sorted(n for n in delivered.keys() | after.keys() if delivered.get(n) != after.get(n))
    return broken, outcome


def run_first_stage(world: World, layout: DataLayout, instance: dg.DagsterInstance) -> Outcome:
    """Record the delivery on the landing asset, then one run of the landing readers for the partition."""
    job = world.job
    defs = build_definitions(Warehouse(data_dir=str(layout.root)), {job.config_key: world.config}, jobs=[job])
    keys = landing_readers(defs, job)
    before = set(Path(layout.root).rglob("*.parquet"))
    record_delivery(job, layout, world.partition, instance)
    try:
        with environment(ENV):  # settings taken from the environment are resolved as the run starts
            execute(defs.resolve_implicit_global_asset_job_def(), keys, (world.partition, world.partition), instance)
        error = None
    except JobRunFailed as failed:
        error = str(failed)
    metadata = {k.to_user_string(): m for k in keys if (m := latest_metadata(instance, k, world.partition)) is not None}
    return Outcome(error, metadata, sorted(set(Path(layout.root).rglob("*.parquet")) - before))


def problems(broken: Break, outcome: Outcome, clean: Outcome) -> list[str]:
    """What is wrong with a job's answer to a broken delivery (nothing: it is right); `clean` is its
    answer to the delivery as generated."""
    found = [f"changed its delivery folder: {outcome.touched}"] if outcome.touched else []
    if TRACEBACK.search(outcome.error or ""):
        found.append("traceback text in its answer")
    if not outcome.accepted:
        if not any(n in outcome.text for n in broken.names):
            found.append(f"refused without naming {' or '.join(broken.names)}")
        if outcome.written:
            found.append(f"refused, yet wrote {[str(p) for p in outcome.written]}")
        return found
    if broken.must_refuse:
        return found + ["accepted rows from a delivery it cannot have read"]
    if broken.extra_rows:
        grown = {k: n - clean.rows_in().get(k, 0) for k, n in outcome.rows_in().items()}
        if broken.extra_rows not in grown.values():
            found.append(f"accepted without reading {EXTRA_NAME} ({broken.extra_rows} rows): rows in grew by {grown}")
    if broken.column and broken.column not in json.dumps(list(outcome.metadata.values()), default=str):
        found.append(f"accepted without naming column {broken.column}")
    if broken.planted:
        if counted(list(outcome.metadata.values()), broken.column) < len(broken.planted):
            found.append(f"accepted without counting the {len(broken.planted)} values set to {broken.planted} in {broken.column}")
        reached = {str(p): n for p in outcome.outputs if (n := floats_at_least(p, 1e300))}
        if reached or not outcome.outputs:
            found.append(f"wrote {broken.planted} into {reached}" if reached else "accepted, yet wrote no table")
    return found


def counted(metadata, column: str) -> int:
    """The rows metadata counts against `column`, in either shape jobs use: a record naming it
    (`{"column_name": column, "reason": ..., "rows": n}`) or a key naming it (`{"column reason": n}`)."""
    if isinstance(metadata, list):
        return sum(counted(v, column) for v in metadata)
    if not isinstance(metadata, dict):
        return 0
    if column in metadata.values():
        return sum(v for v in metadata.values() if isinstance(v, int) and not isinstance(v, bool))
    return sum(v if isinstance(v, int) and not isinstance(v, bool) and column in k.replace(",", " ").split()
               else counted(v, column) for k, v in metadata.items())


def floats_at_least(path: Path, limit: float) -> int:
    """Values at or above `limit` (infinities included) in any floating column of a Parquet file."""
    table = pq.read_table(path)
    return sum(1 for c in floating_columns(table) for v in table.column(c).to_pylist() if v is not None and v >= limit)
