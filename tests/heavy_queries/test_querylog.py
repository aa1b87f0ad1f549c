"""The Trino-like query log around the measured corpus: exact schema, measured costs only, 44
days, habits and repetition, duplicates and invalid rows listed in the truth, scaled thresholds."""

from datetime import date

import polars as pl
import pytest

from platform_assets.heavy_queries.logic.config import PRODUCTION, HeavyThresholds
from platform_assets.heavy_queries.logic.corpus import RESOURCE_ERROR, SMALL_CORPUS, build_corpus, load_corpus
from platform_assets.heavy_queries.logic.delivery import DEFECTS_FILE, JOB, LOG_FILE, TRUTH_FILE, deliver_log
from platform_assets.heavy_queries.logic.querylog import (
    DEFECTS,
    LOG_SCHEMA,
    TRUTH_SCHEMA,
    LogSpec,
    choose_thresholds,
    generate_log,
    heavy_expr,
)
from platform_core.storage import SUCCESS_MARKER, DataLayout

SPEC = LogSpec(rows_per_day=150, seed=11)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> pl.DataFrame:
    """The small corpus, from the session cache that test_corpus.py shares."""
    return load_corpus(build_corpus(tmp_path_factory.getbasetemp() / "heavy_queries_cache", SMALL_CORPUS))


@pytest.fixture(scope="session")
def qlog(corpus):
    return generate_log(corpus, SPEC)


@pytest.fixture(scope="session")
def delivered(corpus, tmp_path_factory):
    layout = DataLayout.at(tmp_path_factory.mktemp("heavy_queries_data"))
    return layout, deliver_log(layout, corpus, SPEC)


def _valid(log: pl.DataFrame, defects: pl.DataFrame) -> pl.DataFrame:
    broken = defects.filter(pl.col("defect") != "duplicate")["query_id"].drop_nulls()
    return log.filter(pl.col("query_id").is_not_null() & ~pl.col("query_id").is_in(broken.to_list())).unique("query_id", keep="first")


def test_delivered_log_and_truth_schemas_are_exact(delivered):
    layout, result = delivered
    assert len(result.written) == 44 and result.skipped == []
    days = sorted(p.name for p in layout.landing_area(JOB).iterdir())
    assert days[0] == "2025-09-01" and days[-1] == "2025-10-14" and len(days) == 44
    for day in (days[0], days[20], days[-1]):
        assert (layout.landing(JOB, day) / SUCCESS_MARKER).exists()
        part = pl.read_parquet(layout.landing(JOB, day) / LOG_FILE)
        assert dict(part.schema) == LOG_SCHEMA and list(part.columns) == list(LOG_SCHEMA)
        truth = pl.read_parquet(layout.truth(JOB, day) / TRUTH_FILE)
        assert dict(truth.schema) == TRUTH_SCHEMA
        assert set(pl.read_parquet(layout.truth(JOB, day) / DEFECTS_FILE).columns) == {"query_id", "defect"}
    assert sum(pl.read_parquet(layout.landing(JOB, d) / LOG_FILE).height for d in days) == result.rows


def test_costs_in_the_log_are_a_measured_execution_of_that_exact_text(qlog, corpus):
    valid = _valid(qlog.log, qlog.defects)
    joined = valid.join(qlog.truth, on="query_id").join(corpus, left_on="measured_run_id", right_on="run_id", suffix="_m")
    assert joined.height == valid.height
    for column in ("query", "schema", "query_type", "cpu_time_ms", "wall_time_ms", "peak_memory_bytes"):
        assert (joined[column] == joined[f"{column}_m"]).all(), column
    assert (joined["error_type"].fill_null("") == joined["error_type_m"].fill_null("")).all()
    assert (joined["template"] == joined["template_m"]).all()
    # a re-run text takes the costs of one of its real executions, not always the same one
    per_text = joined.group_by("query").agg(pl.col("measured_run_id").n_unique().alias("runs"), pl.len())
    assert per_text.filter(pl.col("runs") > 1).height > 0


def test_44_days_with_weekday_volume(qlog):
    valid = _valid(qlog.log, qlog.defects)
    per_day = valid.group_by("day").len()
    assert per_day.height == 44
    weekend = per_day.filter(pl.col("day").dt.weekday() >= 6)["len"].mean()
    weekday = per_day.filter(pl.col("day").dt.weekday() < 6)["len"].mean()
    assert weekday > 1.5 * weekend
    assert 0.7 * SPEC.rows_per_day < per_day["len"].mean() < 1.3 * SPEC.rows_per_day
    assert (valid["create_time"].dt.date() == valid["day"]).all()


def test_duplicates_are_delivered_twice_and_flagged_by_query_id(qlog):
    log, defects = qlog.log, qlog.defects
    counts = log.filter(pl.col("query_id").is_not_null()).group_by("query_id").len()
    twice = set(counts.filter(pl.col("len") > 1)["query_id"])
    flagged = set(defects.filter(pl.col("defect") == "duplicate")["query_id"])
    assert twice and twice == flagged
    copies = log.filter(pl.col("query_id").is_in(list(twice))).drop("day").unique()
    assert copies.height == len(twice), "a duplicate repeats its row exactly"
    late = log.filter(pl.col("query_id").is_in(list(twice))).group_by("query_id").agg(pl.col("day").n_unique())
    assert late.height == len(twice)


def test_invalid_rows_are_broken_as_listed(qlog):
    log, defects = qlog.log, qlog.defects
    invalid = defects.filter(pl.col("defect") != "duplicate")
    assert invalid.height == 44 * SPEC.invalid_per_day
    assert set(invalid["defect"]) <= set(DEFECTS) and len(set(invalid["defect"])) >= 4
    rows = log.join(invalid.drop("day"), on="query_id")
    checks = {
        "negative_cpu_time": pl.col("cpu_time_ms") < 0, "negative_peak_memory": pl.col("peak_memory_bytes") < 0,
        "null_query": pl.col("query").is_null(), "null_create_time": pl.col("create_time").is_null(),
        "create_time_outside_day": pl.col("create_time").dt.date() != pl.col("day"),
    }
    for defect, broken in checks.items():
        subset = rows.filter(pl.col("defect") == defect)
        assert subset.select(broken.all()).item() in (True, None), defect
    assert log["query_id"].null_count() == invalid.filter(pl.col("defect") == "null_query_id").height


def test_users_have_habits_and_repeat_queries(qlog):
    valid = _valid(qlog.log, qlog.defects).join(qlog.truth, on="query_id")
    assert valid["user"].n_unique() >= 30
    assert set(valid["source"]) == {"superset", "jupyter", "trino-cli", "airflow", "dbt"}
    assert {"SELECT", "EXPLAIN", "DESCRIBE", "INSERT"} <= set(valid["query_type"])
    assert 0.5 < valid["curated"].mean() < 0.9
    reruns = valid.group_by("query").len().filter(pl.col("len") > 1)
    assert reruns.height > 0 and reruns["len"].sum() > 0.3 * valid.height
    # near-duplicates: one user, one template, several parameter instances
    variants = (valid.filter(pl.col("template").str.starts_with("tpc"))
                .group_by(["user", "template"]).agg(pl.col("query").n_unique().alias("texts")))
    assert variants.filter(pl.col("texts") > 1).height > 0
    # habits: a user's queries concentrate on few templates (top template share well above uniform)
    share = (valid.group_by(["user", "template"]).len()
             .with_columns((pl.col("len") / pl.col("len").sum().over("user")).alias("share"))
             .group_by("user").agg(pl.col("share").max()))
    assert share["share"].median() > 3 / valid["template"].n_unique()
    services = valid.filter(pl.col("user").str.starts_with("svc_"))
    assert services.group_by("day").len().height == 44


def test_log_is_deterministic_from_the_seed(corpus, qlog):
    again = generate_log(corpus, SPEC)
    assert again.log.equals(qlog.log) and again.truth.equals(qlog.truth) and again.defects.equals(qlog.defects)
    other = generate_log(corpus, LogSpec(rows_per_day=150, seed=12))
    assert not other.log.equals(qlog.log)


def test_rows_per_day_scales_the_log(corpus):
    small = generate_log(corpus, LogSpec(rows_per_day=50, days=7, start=date(2025, 9, 1)))
    large = generate_log(corpus, LogSpec(rows_per_day=400, days=7, start=date(2025, 9, 1)))
    assert 5 < large.log.height / small.log.height < 12


def test_scaled_thresholds_make_heavy_a_small_minority(qlog, corpus):
    valid = _valid(qlog.log, qlog.defects)
    chosen, rate = choose_thresholds(valid, target_rate=0.10)
    assert 0.05 <= rate <= 0.10
    assert valid.select(heavy_expr(chosen).mean()).item() == pytest.approx(rate)
    assert chosen.cpu_ms < PRODUCTION.cpu_ms
    stricter, stricter_rate = choose_thresholds(valid, target_rate=0.05)
    assert stricter_rate <= rate and stricter.cpu_ms >= chosen.cpu_ms and stricter.peak_memory_bytes >= chosen.peak_memory_bytes
    # a resource error is heavy whatever its costs; production thresholds make nothing else heavy here
    oom = corpus.filter(pl.col("error_type") == RESOURCE_ERROR)
    assert oom.select(heavy_expr(HeavyThresholds(10**12, 10**15)).all()).item()
    heavy_in_production = valid.select(heavy_expr(PRODUCTION)).to_series()
    assert heavy_in_production.sum() == valid["error_type"].is_in([RESOURCE_ERROR]).sum()


def test_a_delivered_day_is_never_rewritten(delivered, corpus):
    layout, _ = delivered
    day = layout.landing(JOB, "2025-09-03") / LOG_FILE
    before = (day.stat().st_mtime_ns, day.read_bytes())
    again = deliver_log(layout, corpus, SPEC)
    assert again.written == [] and len(again.skipped) == 44
    assert (day.stat().st_mtime_ns, day.read_bytes()) == before
