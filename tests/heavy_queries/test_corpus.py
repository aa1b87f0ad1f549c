"""The measured corpus: TPC queries from the official generators run on DuckDB with real costs,
real out-of-memory failures, and a cache that is built once."""

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from platform_assets.heavy_queries.logic import corpus as corpus_module
from platform_assets.heavy_queries.logic.corpus import (
    RESOURCE_ERROR,
    SCHEMA,
    SMALL_CORPUS,
    USER_ERROR_TEMPLATE,
    PlannedExecution,
    build_corpus,
    load_corpus,
    measure,
    throttled_progress,
)
from platform_assets.heavy_queries.logic.tpc import database_path, fix_for_duckdb, generate_queries, split_statements

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """The small corpus, built once per session in a cache shared with test_querylog.py."""
    build = build_corpus(tmp_path_factory.getbasetemp() / "heavy_queries_cache", SMALL_CORPUS)
    return build, load_corpus(build)


def test_corpus_schema_is_exact(small_corpus):
    _, frame = small_corpus
    assert dict(frame.schema) == SCHEMA
    assert frame["run_id"].is_unique().all()


def test_every_generated_instance_runs_or_records_its_error(small_corpus):
    _, frame = small_corpus
    tpc = frame.filter(pl.col("template").str.starts_with("tpc"))
    spec = SMALL_CORPUS
    expected = {f"tpcds_q{t}" for t in spec.tpcds_templates} | {f"tpch_q{t}" for t in spec.tpch_templates}
    assert set(tpc["template"]) == expected
    for text in frame["query"].unique():
        assert split_statements(text)
    failed = frame.filter(pl.col("error_type").is_not_null())
    assert failed["error_message"].is_not_null().all()
    # without a memory limit every TPC instance runs; the only failures are resource errors
    # under a limit and the deliberately misspelled tables
    assert tpc.filter(pl.col("memory_limit").is_null())["error_type"].is_null().all()
    assert set(failed.filter(pl.col("template") != USER_ERROR_TEMPLATE)["error_type"]) == {RESOURCE_ERROR}
    assert set(frame.filter(pl.col("template") == USER_ERROR_TEMPLATE)["error_type"]) == {"USER_ERROR"}


def test_templates_with_several_statements_stay_one_query(small_corpus):
    _, frame = small_corpus
    statements = dict(frame.group_by("template").agg(pl.col("statements").max()).iter_rows())
    assert statements["tpcds_q14"] == 2 and statements["tpcds_q39"] == 2
    assert statements["tpch_q15"] == 3
    assert statements["tpcds_q3"] == 1


def test_new_seeds_give_new_parameters_and_a_seed_repeats_its_text():
    first = generate_queries("tpcds", (3, 7, 42, 52), 0.01, (1, 2))
    again = generate_queries("tpcds", (3, 7, 42, 52), 0.01, (1,))
    by_seed = {(q.template, q.seed): q.sql for q in first}
    assert sum(by_seed[(t, 1)] != by_seed[(t, 2)] for t in (3, 7, 42, 52)) >= 3
    assert [q.sql for q in again] == [by_seed[(t, 1)] for t in (3, 7, 42, 52)]
    tpch = generate_queries("tpch", (1, 15), 0.01, (5,))
    assert "rownum" not in tpch[0].sql and "day (3)" not in tpch[0].sql and "--" not in tpch[0].sql
    assert "create temp view" in tpch[1].sql


def test_fix_for_duckdb_rewrites_only_the_measured_incompatibilities():
    assert fix_for_duckdb("tpcds", "d_date + 30 days and x - 14 days") == "d_date + INTERVAL 30 DAY and x - INTERVAL 14 DAY"
    assert fix_for_duckdb("tpcds", "select (a) at, b") == "select (a) at_, b"
    assert fix_for_duckdb("tpch", "select 1 from t order by 1;\nwhere rownum <= 100;") == "select 1 from t order by 1\nlimit 100;"
    assert fix_for_duckdb("tpch", "select 1;\nwhere rownum <= -1;") == "select 1;"
    with pytest.raises(ValueError, match="unknown benchmark"):
        fix_for_duckdb("tpcx", "select 1")


def test_out_of_memory_errors_really_occur_under_the_limit(small_corpus):
    build, frame = small_corpus
    oom = frame.filter(pl.col("error_type") == RESOURCE_ERROR)
    assert oom.height >= 1
    assert oom["memory_limit"].is_not_null().all()
    assert oom["error_message"].str.contains("Out of Memory").all()
    # the same text: out of memory at 16 MB without spilling, fine without a limit
    text = frame.filter(pl.col("template") == "tpcds_q14")["query"][0]
    database = database_path(build.path.parent.parent / "data", "tpcds", 0.01)
    limited = measure(database, PlannedExecution("tpcds", "tpcds_q14", 0.01, None, "SELECT", text, 1, 16 * 2**20))
    free = measure(database, PlannedExecution("tpcds", "tpcds_q14", 0.01, None, "SELECT", text, 1, None))
    assert limited.error_type == RESOURCE_ERROR and limited.peak_memory_bytes > 0
    assert free.error_type is None and free.rows_returned > 0 and free.peak_memory_bytes > 16 * 2**20


def test_costs_are_measured_positive_and_span_orders_of_magnitude(small_corpus):
    _, frame = small_corpus
    assert (frame["cpu_time_us"] > 0).all() and (frame["wall_time_us"] > 0).all()
    assert (frame["cpu_time_ms"] >= 1).all() and (frame["peak_memory_bytes"] >= 0).all()
    ran = frame.filter(pl.col("template").str.starts_with("tpc") & (pl.col("query_type") == "SELECT")
                       & pl.col("error_type").is_null())
    assert (ran["peak_memory_bytes"] > 0).all() and (ran["operator_cpu_time_us"] > 0).all()
    assert frame["cpu_time_us"].max() > 10 * frame["cpu_time_us"].min()
    assert ran["peak_memory_bytes"].max() > 10 * ran["peak_memory_bytes"].min()
    cheap = frame.filter(pl.col("template").str.starts_with("zero_cost_"))["cpu_time_us"].median()
    assert frame.filter(pl.col("template") == "tpcds_q14")["cpu_time_us"].median() > 5 * cheap


def test_second_build_reuses_the_cache_without_executing(small_corpus, monkeypatch):
    build, frame = small_corpus
    calls = []
    monkeypatch.setattr(corpus_module, "measure", lambda *args: calls.append(args))
    again = build_corpus(build.path.parent.parent, SMALL_CORPUS)
    assert again.reused and again.executed == 0 and calls == []
    assert again.path == build.path and load_corpus(again).equals(frame)
    assert again.figures["executions"] == frame.height
    other = SMALL_CORPUS.__class__(**{**SMALL_CORPUS.__dict__, "seed": 8})
    assert other.key != SMALL_CORPUS.key


def test_a_build_logs_its_databases_and_throttled_progress(small_corpus):
    """A build hands its log callable one line per database and progress lines (what, how far, ETA), the last
    one always; the databases are the small corpus's, so only the few executions run."""
    build, _ = small_corpus
    tiny = SMALL_CORPUS.__class__(**{**SMALL_CORPUS.__dict__, "tpcds_templates": (3,), "tpch_templates": (6,),
                                     "seeds_per_template": 1, "zero_cost_per_database": 1, "user_errors_per_database": 0})
    lines = []
    done = build_corpus(build.path.parent.parent, tiny, log=lines.append)
    assert [line.split(" database ready ")[1][:8] for line in lines[:2]] == ["(1 of 2)", "(2 of 2)"]
    assert lines[0].startswith("measured corpus: tpcds SF 0.01")
    assert lines[-1].startswith(f"measured corpus: executions measured: {done.executed:,} of {done.executed:,} (100%) in ")
    assert len(lines) < 2 + done.executed  # throttled: not a line per execution


def test_throttled_progress_says_how_far_and_how_long_is_left():
    lines = []
    progress = throttled_progress(lines.append, "measuring", every_s=0.0)
    progress(1, 4)
    progress(4, 4)
    assert lines[0].startswith("measuring: 1 of 4 (25%) in 0 s, about ") and lines[0].endswith(" left")
    assert lines[1].startswith("measuring: 4 of 4 (100%) in ") and "left" not in lines[1]
    quiet = []
    progress = throttled_progress(quiet.append, "measuring", every_s=3600.0)
    for done in range(1, 1001):
        progress(done, 1000)
    assert quiet == [quiet[-1]] and quiet[-1].startswith("measuring: 1,000 of 1,000 (100%)")


def test_logic_modules_do_not_import_dagster():
    modules = [f"platform_assets.heavy_queries.logic.{m}" for m in ("tpc", "corpus", "querylog", "delivery")]
    code = f"import sys\nfor m in {modules!r}:\n    __import__(m)\nprint('dagster' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
