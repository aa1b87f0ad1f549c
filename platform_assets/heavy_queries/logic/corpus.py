"""The measured corpus: every query text executed on DuckDB and its real cost recorded.

Each execution opens its own read-only connection to the benchmark's database file (so no
query profits from another's cached blocks) with a threads setting. Every text runs once
without a memory limit; a share of texts runs once more under a memory limit with spilling
disabled (`temp_directory=''`), so the heaviest fail with a real `OutOfMemoryException`
(EXCEEDED_MEMORY_LIMIT, the seed's third label).

What is recorded per execution, summed over a text's statements:
- `cpu_time_us`: the process's CPU time (`time.process_time`, every DuckDB thread) around
  parse, plan, execute and fetch. Chosen over the profiler's operator `cpu_time`
  (kept as `operator_cpu_time_us`) because it exists for every statement (DESCRIBE, EXPLAIN and
  failed statements have no profile) and, unlike wall time, does not grow when other people's
  work shares the 2 cores. `cpu_time_ms` is it rounded up to whole milliseconds, as logs
  account it.
- `wall_time_us` / `wall_time_ms`: elapsed time of the same calls.
- `peak_memory_bytes`: the profiler's `peak_buffer_memory` (cached table blocks included), the
  largest over the statements; also for a statement that failed out of memory; 0 for
  statements DuckDB does not profile (DESCRIBE, EXPLAIN, binder errors).
- `error_type` (NULL, EXCEEDED_MEMORY_LIMIT, USER_ERROR, INTERNAL_ERROR) and `error_message`.

Besides the TPC instances (some wrapped as CREATE TABLE AS, INSERT or EXPLAIN ANALYZE), the
corpus holds zero-cost statements (SHOW, DESCRIBE, EXPLAIN, SET SESSION, USE, literals,
information_schema lookups, previews) and user errors (a TPC query with a misspelled table),
measured the same way.

The corpus is built once per specification and cached under `<cache>/corpus-<key>/` (written
whole, its manifest last); the benchmark databases under `<cache>/data/` are shared by all
specifications.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from platform_assets.heavy_queries.logic.tpc import (
    TEMPLATES,
    QueryInstance,
    build_database,
    generate_queries,
    schema_name,
    split_statements,
)
from platform_core.storage import DataLayout, is_remote, scratch_dir, write_once_dir

CORPUS_VERSION = 3
MANIFEST = "manifest.json"
TABLE = "measured_executions.parquet"
RESOURCE_ERROR = "EXCEEDED_MEMORY_LIMIT"
USER_ERROR = "USER_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"
ZERO_COST_PREFIX = "zero_cost_"
USER_ERROR_TEMPLATE = "user_error_typo"

SCHEMA = {
    "run_id": pl.String, "benchmark": pl.String, "template": pl.String, "scale_factor": pl.Float64,
    "schema": pl.String, "param_seed": pl.Int64, "query_type": pl.String, "query": pl.String,
    "statements": pl.Int32, "threads": pl.Int32, "memory_limit": pl.Int64,
    "cpu_time_ms": pl.Int64, "wall_time_ms": pl.Int64, "peak_memory_bytes": pl.Int64,
    "error_type": pl.String, "error_message": pl.String,
    "cpu_time_us": pl.Int64, "wall_time_us": pl.Int64, "operator_cpu_time_us": pl.Int64, "rows_returned": pl.Int64,
}


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate and how to execute it. Its `key` names the cache entry, so any change
    builds a new corpus. Memory limits are per scale factor (`(scale, limits in MB)`), since
    peak memory grows with the data; spilling is disabled under a limit."""

    tpcds_scales: tuple[float, ...]
    tpch_scales: tuple[float, ...]
    tpcds_templates: tuple[int, ...] = TEMPLATES["tpcds"]
    tpch_templates: tuple[int, ...] = TEMPLATES["tpch"]
    seeds_per_template: int = 3
    threads: tuple[int, ...] = (1, 2)
    memory_limited_share: float = 0.25
    memory_limits_mb: tuple[tuple[float, tuple[int, ...]], ...] = (
        (0.01, (16, 32)), (0.1, (16, 24, 32)), (1.0, (32, 64, 96)), (3.0, (96, 192, 320)))
    repeat_share: float = 0.3
    ctas_share: float = 0.04
    insert_share: float = 0.04
    explain_analyze_share: float = 0.02
    zero_cost_per_database: int = 40
    user_errors_per_database: int = 4
    seed: int = 7

    @property
    def key(self) -> str:
        payload = json.dumps({"version": CORPUS_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def memory_limits_for(self, scale_factor: float) -> tuple[int, ...]:
        """The limits of the nearest configured scale at or below `scale_factor` (else the smallest)."""
        known = sorted(self.memory_limits_mb)
        chosen = known[0][1]
        for scale, limits in known:
            if scale <= scale_factor:
                chosen = limits
        return chosen


SMALL_CORPUS = CorpusSpec(
    tpcds_scales=(0.01,), tpch_scales=(0.01,),
    tpcds_templates=(3, 7, 14, 19, 23, 27, 39, 42, 52, 55, 64, 67, 72, 78, 88, 96, 98),
    tpch_templates=(1, 3, 5, 6, 9, 13, 15, 18, 21), seeds_per_template=2, zero_cost_per_database=15,
    user_errors_per_database=2)
DEFAULT_CORPUS = CorpusSpec(tpcds_scales=(0.1, 1.0), tpch_scales=(0.1, 1.0), seeds_per_template=2)
LARGE_CORPUS = CorpusSpec(tpcds_scales=(0.1, 1.0, 3.0), tpch_scales=(0.1, 1.0, 3.0), seeds_per_template=5)


@dataclass(frozen=True)
class PlannedExecution:
    """One execution to measure: a text on a database with its settings."""

    benchmark: str
    template: str
    scale_factor: float
    param_seed: int | None
    query_type: str
    query: str
    threads: int
    memory_limit: int | None
    setup: str | None = None


@dataclass(frozen=True)
class Measurement:
    cpu_time_us: int
    wall_time_us: int
    operator_cpu_time_us: int
    peak_memory_bytes: int
    rows_returned: int
    statements: int
    error_type: str | None
    error_message: str | None


@dataclass(frozen=True)
class CorpusBuild:
    """Where the corpus is, and what this call did: `executed` is 0 when the cache was reused."""

    path: Path
    key: str
    reused: bool
    executed: int
    seconds: float
    figures: dict = field(default_factory=dict)


def corpus_cache_root(layout: DataLayout) -> Path:
    """`<data root>/cache/heavy_queries` on local disk; local scratch when the data root is an
    object store (DuckDB database files need a local disk)."""
    if is_remote(layout.root):
        return scratch_dir() / "cache" / "heavy_queries"
    return Path(layout.root) / "cache" / "heavy_queries"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def throttled_progress(log: Callable[[str], None], what: str, every_s: float = 15.0) -> Callable[[int, int], None]:
    """A `progress(done, total)` that hands `log` one line (what, how far, ETA) at most every `every_s`
    seconds, and the last one always: a build of minutes is visible without flooding the log."""
    started = time.perf_counter()
    last = [started]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - last[0] < every_s:
            return
        last[0] = now
        elapsed = now - started
        eta = f", about {_duration(elapsed / done * (total - done))} left" if 0 < done < total else ""
        log(f"{what}: {done:,} of {total:,} ({100 * done / max(total, 1):.0f}%) in {_duration(elapsed)}{eta}")

    return progress


def build_corpus(cache_root: Path, spec: CorpusSpec = DEFAULT_CORPUS,
                 progress: Callable[[int, int], None] | None = None,
                 log: Callable[[str], None] | None = None) -> CorpusBuild:
    """The measured corpus for `spec`: reused when complete in the cache, else generated,
    executed and written whole. `progress(done, total)` is called as executions finish; `log`, if
    given, gets a line per database built and throttled progress lines of the executions."""
    started = time.perf_counter()
    target = Path(cache_root) / f"corpus-{spec.key}"
    if (target / MANIFEST).exists():
        manifest = json.loads((target / MANIFEST).read_text())
        return CorpusBuild(target / TABLE, spec.key, True, 0, time.perf_counter() - started, manifest["figures"])
    data_started = time.perf_counter()
    wanted = [(b, sf) for b, scales in (("tpcds", spec.tpcds_scales), ("tpch", spec.tpch_scales)) for sf in scales]
    databases = {}
    for i, (benchmark, sf) in enumerate(wanted):
        t = time.perf_counter()
        databases[(benchmark, sf)] = build_database(Path(cache_root) / "data", benchmark, sf)
        if log:
            log(f"measured corpus: {benchmark} SF {sf:g} database ready ({i + 1} of {len(wanted)}) in "
                f"{_duration(time.perf_counter() - t)}")
    data_seconds = time.perf_counter() - data_started
    plan = plan_executions(spec, databases)
    reporters = [progress] + ([throttled_progress(log, "measured corpus: executions measured")] if log else [])
    rows = []
    for i, planned in enumerate(plan):
        m = measure(databases[(planned.benchmark, planned.scale_factor)], planned)
        rows.append(_row(f"{spec.key[:8]}-{i:05d}", planned, m))
        for report in reporters:
            if report:
                report(i + 1, len(plan))
    frame = pl.DataFrame(rows, schema=SCHEMA)
    figures = corpus_figures(frame) | {"data_seconds": round(data_seconds, 1),
                                       "build_seconds": round(time.perf_counter() - started, 1)}
    with write_once_dir(target, last=MANIFEST) as tmp:
        frame.write_parquet(tmp / TABLE)
        (tmp / MANIFEST).write_text(json.dumps({"spec": asdict(spec), "key": spec.key, "figures": figures},
                                               indent=2, sort_keys=True) + "\n")
    return CorpusBuild(target / TABLE, spec.key, False, len(plan), time.perf_counter() - started, figures)


def load_corpus(build: CorpusBuild | Path) -> pl.DataFrame:
    return pl.read_parquet(build.path if isinstance(build, CorpusBuild) else build)


def plan_executions(spec: CorpusSpec, databases: dict[tuple[str, float], Path]) -> list[PlannedExecution]:
    """Every execution the corpus measures, deterministic from `spec.seed`: each distinct
    generated text (some wrapped as CTAS / INSERT) once without a memory limit, a share once
    more (the jitter of a re-run) and a share once under a memory limit; plus zero-cost
    statements and user errors per database, once each. Threads drawn per execution."""
    rng = random.Random(spec.seed)
    seeds = [spec.seed * 1000 + i for i in range(1, spec.seeds_per_template + 1)]
    plan: list[PlannedExecution] = []
    for (benchmark, sf), path in databases.items():
        templates = spec.tpcds_templates if benchmark == "tpcds" else spec.tpch_templates
        instances = _distinct(generate_queries(benchmark, templates, sf, seeds))
        limits = spec.memory_limits_for(sf)

        for inst in instances:
            query_type, query, setup = _wrap(inst, rng.random(), spec)
            memory = [None] * (1 + (rng.random() < spec.repeat_share))
            if rng.random() < spec.memory_limited_share:
                memory.append(rng.choice(limits) * 2**20)
            for limit in memory:
                plan.append(PlannedExecution(benchmark, inst.template_name, sf, inst.seed, query_type, query,
                                             rng.choice(spec.threads), limit, setup))
        for template, query_type, query in _side_statements(path, instances, spec, rng):
            plan.append(PlannedExecution(benchmark, template, sf, None, query_type, query, rng.choice(spec.threads), None))
    return plan


def _distinct(instances: list[QueryInstance]) -> list[QueryInstance]:
    """Seeds that give a template the same text (it has no parameter they change) are one text."""
    seen: dict[str, QueryInstance] = {}
    for inst in instances:
        seen.setdefault(inst.sql, inst)
    return list(seen.values())


def _wrap(inst: QueryInstance, draw: float, spec: CorpusSpec) -> tuple[str, str, str | None]:
    """(query_type, text, setup): most instances as generated; a share of single-statement ones
    as CREATE TABLE AS, INSERT (its target table created empty first, not measured) or EXPLAIN
    ANALYZE (an EXPLAIN that runs the query: not zero-cost)."""
    statements = split_statements(inst.sql)
    if len(statements) > 1 or draw >= spec.ctas_share + spec.insert_share + spec.explain_analyze_share:
        return "SELECT", inst.sql, None
    body = statements[0]
    if draw < spec.ctas_share:
        return "CREATE_TABLE_AS_SELECT", f"CREATE TEMP TABLE ctas_result AS\n{body}", None
    if draw < spec.ctas_share + spec.insert_share:
        return "INSERT", f"INSERT INTO insert_target\n{body}", f"CREATE TEMP TABLE insert_target AS SELECT * FROM ({body}) AS q LIMIT 0"
    return "EXPLAIN", f"EXPLAIN ANALYZE\n{body}", None


def _side_statements(path: Path, instances: list[QueryInstance], spec: CorpusSpec,
                     rng: random.Random) -> list[tuple[str, str, str]]:
    """(template, query_type, text): zero-cost statements people run around their queries, and
    real queries with a misspelled table name (they fail while binding: USER_ERROR)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
    finally:
        con.close()
    single = [i for i in instances if len(split_statements(i.sql)) == 1]
    candidates = [("zero_cost_show", "SHOW", "SHOW TABLES"), ("zero_cost_show", "SHOW", "SHOW ALL TABLES"),
                  ("zero_cost_literal", "SELECT", "SELECT 1"), ("zero_cost_literal", "SELECT", "SELECT version()"),
                  ("zero_cost_literal", "SELECT", "SELECT current_date"), ("zero_cost_use", "USE", "USE main"),
                  ("zero_cost_set", "SET_SESSION", "SET SESSION enable_progress_bar = false"),
                  ("zero_cost_set", "SET_SESSION", "SET SESSION default_null_order = 'nulls_last'"),
                  ("zero_cost_information_schema", "SELECT",
                   "SELECT table_name FROM information_schema.tables ORDER BY table_name")]
    for t in tables:
        candidates += [("zero_cost_describe", "DESCRIBE", f"DESCRIBE {t}"),
                       ("zero_cost_information_schema", "SELECT",
                        f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{t}'"),
                       ("zero_cost_preview", "SELECT", f"SELECT * FROM {t} LIMIT {rng.choice((10, 100))}")]
    candidates += [("zero_cost_explain", "EXPLAIN", f"EXPLAIN {split_statements(i.sql)[0]}") for i in single]
    chosen = rng.sample(candidates, min(spec.zero_cost_per_database, len(candidates)))
    typos = []
    for inst in rng.sample(single, min(spec.user_errors_per_database, len(single))):
        table = next((t for t in sorted(tables, key=len, reverse=True) if re.search(rf"\b{t}\b", inst.sql)), None)
        if table:
            typos.append((USER_ERROR_TEMPLATE, "SELECT", re.sub(rf"\b{table}\b", table[:-1], inst.sql)))
    return chosen + typos


def measure(database: Path, planned: PlannedExecution) -> Measurement:
    """Execute one planned text on its own read-only connection and measure it (see module doc)."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute("SET threads = ?", [int(planned.threads)])
        if planned.memory_limit:
            con.execute("SET memory_limit = ?", [f"{int(planned.memory_limit)}B"])
            con.execute("SET temp_directory = ''")
        if planned.setup:
            con.execute(planned.setup).fetchall()
        con.execute("SET enable_profiling = 'no_output'")
        cpu = wall = operator_cpu = peak = rows = 0.0
        error_type = error_message = None
        statements = split_statements(planned.query)
        for statement in statements:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            try:
                rows += len(con.execute(statement).fetchall())
            except duckdb.Error as exc:
                error_type, error_message = _error_type(exc), str(exc).splitlines()[0][:500]
            cpu += time.process_time() - cpu_start
            wall += time.perf_counter() - wall_start
            profile = _profile(con, statement)
            operator_cpu += profile.get("cpu_time", 0.0)
            peak = max(peak, profile.get("peak_buffer_memory", 0))
            if error_type:
                break
    finally:
        con.close()
    return Measurement(round(cpu * 1e6), round(wall * 1e6), round(operator_cpu * 1e6), int(peak), int(rows),
                       len(statements), error_type, error_message)


def _profile(con, statement: str) -> dict:
    """The profiler's figures for `statement`, or {} when DuckDB did not profile it (its last
    profile is then an earlier statement's)."""
    profile = json.loads(con.get_profiling_information(format="json"))
    query = profile.get("query") or {}
    if query.get("sql", "").strip().rstrip(";").strip() != statement:
        return {}
    return {"cpu_time": query.get("cpu_time", 0.0), "peak_buffer_memory": profile["system"].get("peak_buffer_memory", 0)}


def _error_type(exc: Exception) -> str:
    import duckdb

    if isinstance(exc, duckdb.OutOfMemoryException):
        return RESOURCE_ERROR
    if isinstance(exc, (duckdb.ParserException, duckdb.CatalogException, duckdb.BinderException)):
        return USER_ERROR
    return INTERNAL_ERROR


def _row(run_id: str, p: PlannedExecution, m: Measurement) -> dict:
    return {
        "run_id": run_id, "benchmark": p.benchmark, "template": p.template, "scale_factor": p.scale_factor,
        "schema": schema_name(p.benchmark, p.scale_factor), "param_seed": p.param_seed, "query_type": p.query_type,
        "query": p.query, "statements": m.statements, "threads": p.threads, "memory_limit": p.memory_limit,
        "cpu_time_ms": math.ceil(m.cpu_time_us / 1000), "wall_time_ms": math.ceil(m.wall_time_us / 1000),
        "peak_memory_bytes": m.peak_memory_bytes, "error_type": m.error_type, "error_message": m.error_message,
        "cpu_time_us": m.cpu_time_us, "wall_time_us": m.wall_time_us, "operator_cpu_time_us": m.operator_cpu_time_us,
        "rows_returned": m.rows_returned,
    }


def corpus_figures(frame: pl.DataFrame) -> dict:
    """Counts and cost ranges for metadata and the report."""
    ok = frame.filter(pl.col("error_type").is_null())
    return {
        "executions": frame.height,
        "distinct_texts": frame["query"].n_unique(),
        "templates": frame["template"].n_unique(),
        "by_schema": dict(sorted(frame.group_by("schema").len().iter_rows())),
        "errors": dict(sorted(frame.filter(pl.col("error_type").is_not_null()).group_by("error_type").len().iter_rows())),
        "memory_limited": int(frame["memory_limit"].is_not_null().sum()),
        "cpu_time_ms_p50": int(ok["cpu_time_ms"].median() or 0),
        "cpu_time_ms_p99": int(ok["cpu_time_ms"].quantile(0.99) or 0),
        "cpu_time_ms_max": int(frame["cpu_time_ms"].max() or 0),
        "peak_memory_bytes_max": int(frame["peak_memory_bytes"].max() or 0),
        "measured_seconds": round(frame["wall_time_us"].sum() / 1e6, 1),
    }
