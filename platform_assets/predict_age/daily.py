"""Daily partitions of predict_age: arrivals validated like the quarterly source, scored with
the champion, and monitored for drift against the champion's training data."""

import dagster as dg

from platform_assets.common import (
    CATALOG_POOL,
    GUARDED_EAGER,
    OWNERS,
    check_results,
    check_specs,
    column_schema,
    freshness,
    md,
    stage_metadata,
    table_preview,
    timed,
)
from platform_assets.predict_age.config import PredictAgeConfig
from platform_assets.predict_age.keys import JOB, key
from platform_assets.predict_age.logic.daily import daily_finals, model_version_of, monitor_day, score_day
from platform_assets.predict_age.logic.gates import FINAL_TABLE_GATES, final_table_gates
from platform_assets.predict_age.logic.prediction import LoadedModels
from platform_assets.predict_age.logic.publish import FINAL_COLUMNS, FINAL_DESCRIPTIONS
from platform_assets.predict_age.logic.source import build_source_snapshot
from platform_assets.predict_age.logic.staging import build_staging_features
from platform_assets.predict_age.partitions import daily_partitions
from platform_core.gates import GateResult, all_passed
from platform_core.periods import parse_day
from platform_core.registry import ModelRef
from platform_core.reports import markdown_table
from platform_core.storage import current, pin_published
from resources import Warehouse

GROUP = f"{JOB}_daily"
DAILY_VIEW = "predict_age_daily_predictions"
COMMON = {"group_name": GROUP, "owners": OWNERS, "code_version": "2", "automation_condition": GUARDED_EAGER}

landing_daily = dg.AssetSpec(
    key("landing_daily"), group_name=GROUP, owners=OWNERS, partitions_def=daily_partitions, kinds={"parquet"},
    description="A delivered day of new records in `landing/predict_age_daily/<day>/` (read-only to the platform); "
                "each delivery is recorded by predict_age_daily_sensor with its version.")


@dg.asset(key=key("daily_arrivals"), **COMMON, partitions_def=daily_partitions, deps=[landing_daily], kinds={"parquet", "duckdb"},
          description="New records of the day, validated against the source contract and staged (one bucket).")
def daily_arrivals(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    day, layout, timing = parse_day(context.partition_key), warehouse.layout(), {}
    target = layout.table(JOB, "daily_arrivals", day)
    with timed(timing):
        stats = build_source_snapshot(layout.landing(JOB, day, feed="daily"), target / "source", day, predict_age.min_age,
                                      predict_age.max_age, warehouse.threads)
        staged = build_staging_features(current(target / "source"), target / "staging", day, 1, warehouse.threads)
    return dg.MaterializeResult(metadata={
        "day": day.isoformat(), "duration_s": timing["duration_s"], "rows_in": stats.rows_in, "rows_out": stats.rows_out,
        "duplicate_pids": stats.duplicate_pids, "rows_needing_prediction": staged["rows_needing_prediction"],
        "quarantine": table_preview(stats.quarantine), "dagster/row_count": stats.rows_out,
    })


DAILY_CHECKS = check_specs(key("daily_predictions"), FINAL_TABLE_GATES, daily_partitions)
DRIFT_CHECKS = check_specs(key("daily_monitoring"), {
    "feature_drift": "PSI of every feature and of the predictions against the champion's training data below the threshold.",
}, daily_partitions, blocking=False)


@dg.asset(key=key("daily_predictions"), **COMMON, partitions_def=daily_partitions, deps=[key("daily_arrivals")],
          pool=CATALOG_POOL, check_specs=DAILY_CHECKS, kinds={"parquet", "xgboost"}, freshness_policy=freshness(days=2),
          metadata={"dagster/column_schema": column_schema(FINAL_COLUMNS, FINAL_DESCRIPTIONS, unique=("pid",)), "dagster/table_name": DAILY_VIEW},
          description=f"Arrivals scored with the champion model, in final_results' schema; catalog view {DAILY_VIEW}.")
def daily_predictions(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    day, layout, timing = parse_day(context.partition_key), warehouse.layout(), {}
    target = layout.table(JOB, "daily_predictions", day)
    with timed(timing):
        models = LoadedModels.champion(warehouse.registry(), JOB, predict_age.xgb_nthread)
        f = score_day(current(layout.table(JOB, "daily_arrivals", day) / "staging"), target / "batches", target / "final", models,
                      min_features=predict_age.min_features, min_age=predict_age.min_age, max_age=predict_age.max_age,
                      existing_confidence=predict_age.existing_confidence)
    gates = final_table_gates(f)
    if all_passed(gates):
        pin_published(current(target / "final"))
        warehouse.publish_views({DAILY_VIEW: daily_finals(layout)})
    return dg.MaterializeResult(
        metadata={**stage_metadata(day.isoformat(), f["source_pids"], f["rows"], timing["duration_s"]),
                  "by_source": f["by_source"], "model_version": f["model_version"], "catalog_view": DAILY_VIEW},
        check_results=check_results(DAILY_CHECKS, gates),
    )


@dg.asset(key=key("daily_monitoring"), **COMMON, partitions_def=daily_partitions, deps=[key("daily_predictions")],
          check_specs=DRIFT_CHECKS, kinds={"python"},
          description="Population stability index of each feature and of the predictions against training data.")
def daily_monitoring(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    day, layout = parse_day(context.partition_key), warehouse.layout()
    final = current(layout.table(JOB, "daily_predictions", day) / "final")
    version = model_version_of(final)
    report = monitor_day(current(layout.table(JOB, "daily_arrivals", day) / "staging"), final, warehouse.registry(),
                         ModelRef.parse(JOB, version))
    worst = report[0]
    drifted = [r["name"] for r in report if r["psi"] > predict_age.drift_psi_threshold]
    return dg.MaterializeResult(
        metadata={"day": day.isoformat(), "model_version": version, "max_psi": worst["psi"],
                  "max_psi_column": worst["name"], "drift": md(markdown_table(report))},
        check_results=check_results(DRIFT_CHECKS, [GateResult(
            "feature_drift", not drifted,
            {"drifted": drifted, "threshold": predict_age.drift_psi_threshold, "max_psi": worst["psi"]}, blocking=False)]),
    )


assets = [landing_daily, daily_arrivals, daily_predictions, daily_monitoring]
