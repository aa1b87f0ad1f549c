"""Model gates through Dagster: fairness blocks, the champion/challenger rule, rollback."""

import dagster as dg
import duckdb
import polars as pl

from platform_assets.predict_age.jobs import BATCHES, PREPARE
from platform_assets.registry_cli import main as registry_cli
from platform_core.registry import ModelRegistry
from tests.conftest import QUARTER
from tests.predict_age.helpers import definitions

WEST = ["AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"]


def prepare(defs, instance):
    return defs.resolve_job_def(PREPARE).execute_in_process(
        instance=instance, partition_key=QUARTER.partition_key, raise_on_error=False)


def failed_checks(result):
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)


def test_biased_training_data_fails_the_fairness_gate_and_blocks_downstream(data_layout, instance):
    # Known ages in the West are recorded 8 years too old; region is not a model feature, so the
    # model cannot learn the shift and its errors differ by region.
    for part in data_layout.landing("predict_age", QUARTER).glob("*.parquet"):
        frame = pl.read_parquet(part)
        age = frame["approximate_age"].str.strip_chars().cast(pl.Int64, strict=False)
        shifted = pl.when(pl.col("state").is_in(WEST) & age.is_between(18, 92)).then((age + 8).cast(pl.String))
        frame.with_columns(shifted.otherwise(pl.col("approximate_age")).alias("approximate_age")).write_parquet(part)
    result = prepare(definitions(data_layout, fairness_min_group_rows=50), instance)
    assert "fairness" in failed_checks(result)
    fairness = next(e for e in result.get_asset_check_evaluations() if e.check_name == "fairness")
    assert "region" in fairness.metadata["gates"].value
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "missing_rows_evaluation" not in materialized  # blocked in the same run
    assert not ModelRegistry(data_layout.models).champion_history("predict_age")


def test_worse_challenger_is_not_promoted_and_rollback_is_used_by_the_next_prediction(data_layout, instance):
    registry = ModelRegistry(data_layout.models)
    assert prepare(definitions(data_layout), instance).success
    first = registry.champion("predict_age")["xgboost"]

    weak = definitions(data_layout, xgb_rounds=4, xgb_max_depth=2)  # a candidate stopped far too early
    result = prepare(weak, instance)
    assert "not_worse_than_champion" in failed_checks(result)
    rule = next(e for e in result.get_asset_check_evaluations() if e.check_name == "not_worse_than_champion")
    assert rule.metadata["candidate_mae"].value > rule.metadata["champion_mae"].value * 1.05
    assert registry.champion("predict_age")["xgboost"] == first
    assert len(registry.versions("predict_age", "xgboost")) == 2

    better = definitions(data_layout, seed=11)  # a different sample: a new version that passes every gate
    assert prepare(better, instance).success
    second = registry.champion("predict_age")["xgboost"]
    assert second != first

    assert registry_cli(["--data-dir", str(data_layout.root), "rollback", "--reason", "test rollback"]) == 0
    assert registry.champion("predict_age")["xgboost"] == first
    batch = dg.MultiPartitionKey({"batch": "000", "quarter": QUARTER.partition_key})
    assert better.resolve_job_def(BATCHES).execute_in_process(instance=instance, partition_key=batch).success
    batch_file = data_layout.table("predict_age", "prediction_batches", QUARTER) / "batch-000.parquet"
    versions = duckdb.connect().execute(f"SELECT DISTINCT model_version FROM '{batch_file}'").fetchall()
    assert versions == [(str(first),)]
    assert registry.champion_history("predict_age")[-1]["reason"] == "rollback: test rollback"

    # the rolled-back version is not promoted again by a re-run that produces it, and there is
    # nothing before the first champion to roll back to
    assert prepare(better, instance).success
    assert registry.champion("predict_age")["xgboost"] == first
    assert registry_cli(["--data-dir", str(data_layout.root), "rollback", "--reason", "again"]) == 1
