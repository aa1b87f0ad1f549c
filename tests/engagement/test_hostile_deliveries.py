"""Hostile months through Dagster, as `make run` runs them: a few impossible values are set aside
and the rest is scored; labels of -5 on 30% of labelled rows refuse the delivery with one line
naming column, rows and rate; a missing label column is named."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from platform_assets.engagement import definitions as engagement
from platform_assets.engagement.logic.world import KEY, LABEL
from platform_assets.run import JobRunFailed
from platform_core.registry import ModelRegistry
from tests.engagement.test_end_to_end import LABELLED, NEW, month, run  # noqa: F401 (month is a fixture)


def rewrite(layout, change) -> pl.DataFrame:
    part = next(layout.landing("engagement", "2025-07").glob("*.parquet"))
    frame = change(pl.read_parquet(part))
    frame.write_parquet(part)
    return frame


def test_huge_and_infinite_values_are_set_aside_and_the_rest_is_scored(month, instance):
    every_100th = pl.int_range(pl.len()) % 100 == 0
    frame = rewrite(month, lambda f: f.with_columns(
        pl.when(every_100th & pl.col(LABEL).is_null()).then(1e308)
        .when(every_100th).then(float("inf"))  # training rows: scikit-learn would refuse "Input X contains infinity"
        .otherwise(pl.col("feed_time_minutes_day").cast(pl.Float64)).alias("feed_time_minutes_day")))
    planted = frame.filter(pl.col("feed_time_minutes_day") > 1e30)
    huge = planted.filter(pl.col(LABEL).is_null())[KEY].to_list()
    assert len(huge) == NEW // 100 and len(planted) == (LABELLED + NEW) // 100

    recorded = run(month, instance)
    assert all(c["passed"] or c["warning"] for c in recorded["checks"])  # a warning may say the test rows cannot tell
    customers = recorded["stages"]["customers"][0]
    assert customers["set_aside"] == len(planted) and customers["to_score"] == NEW - len(huge)
    with duckdb.connect(str(month.catalog), read_only=True) as con:
        scored = con.execute("SELECT count(*), count(*) FILTER (WHERE list_contains(?, customer_id)) FROM engagement_scores_2025_07",
                             [planted[KEY].to_list()]).fetchone()
    assert scored == (NEW - len(huge), 0)  # every other customer scored, none of the set-aside ones
    truth = recorded["stages"]["engagement_scores"][0]["against_truth"]
    assert truth["rmse"] < 0.06, truth  # the scores are the clean month's, not 1e308's
    summary = engagement.job.summary(recorded, month)
    assert f"{len(planted)} set aside for a value outside its column's range" in summary
    assert "feed_time_minutes_day        infinite" in summary and "feed_time_minutes_day        out_of_range" in summary


def test_labels_outside_0_1_on_30_percent_refuse_the_delivery(month, instance):
    third = pl.int_range(pl.len()) % 10 < 3
    frame = rewrite(month, lambda f: f.with_columns(
        pl.when(third & pl.col(LABEL).is_not_null()).then(-5.0).otherwise(pl.col(LABEL)).alias(LABEL)))
    bad = frame.filter(pl.col(LABEL) == -5.0).height
    assert bad == LABELLED * 3 // 10
    with pytest.raises(JobRunFailed) as failed:
        run(month, instance)
    line = next(line.strip() for line in str(failed.value).splitlines() if "quarantine_rate failed" in line)
    assert line.startswith("check engagement/customers.quarantine_rate failed: column=engagement_score")
    assert f"rows={bad}, rate={round(bad / (LABELLED + NEW), 6)}" in line and "limit=0.01" in line
    assert not ModelRegistry(month.models).versions("engagement", "pipeline")  # refused before training
    assert not month.table_area("engagement", "engagement_scores").exists()


def test_a_missing_label_column_is_named(month, instance):
    rewrite(month, lambda f: f.rename({LABEL: "engagement"}))
    with pytest.raises(JobRunFailed, match=f"ContractError: .*part-00000.parquet: missing required column\\(s\\) {LABEL}"):
        run(month, instance)
