"""Daily partitions of predict_age: arrivals validated like the quarterly source, scored with
the champion, and monitored for drift against the champion's training data."""

import dagster as dg

from platform_assets.common import CATALOG_POOL, JOB, check, key, md, result, timed
from platform_assets.partitions import daily_partitions
from platform_core.daily import daily_finals, model_version_of, monitor_day, score_day
from platform_core.prediction import LoadedModels
from platform_core.publish import markdown_table
from platform_core.quarters import parse_day
from platform_core.registry import ModelRef
from platform_core.source import build_source_snapshot
from platform_core.staging import build_staging_features
from platform_core.storage import current, pin_published
from resources import PredictAgeConfig, Warehouse

GROUP = "predict_age_daily"
DAILY_VIEW = "predict_age_daily_predictions"


@dg.asset(key=key("daily_arrivals"), group_name=GROUP, partitions_def=daily_partitions, kinds={"parquet", "duckdb"},
          description="New records of the day, validated against the source contract and staged (one bucket).")
def daily_arrivals(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    day, layout, timing = parse_day(context.partition_key), warehouse.layout(), {}
    target = layout.daily_table("daily_arrivals", day)
    with timed(timing):
        stats = build_source_snapshot(layout.daily_landing(JOB, day), target / "source", day, predict_age.min_age,
                                      predict_age.max_age, warehouse.threads)
        staged = build_staging_features(current(target / "source"), target / "staging", day, 1, warehouse.threads)
    return dg.MaterializeResult(metadata={
        "day": day.isoformat(), "duration_s": timing["duration_s"], "rows_in": stats.rows_in, "rows_out": stats.rows_out,
        "duplicate_pids": stats.duplicate_pids, "rows_needing_prediction": staged["rows_needing_prediction"],
        "quarantine": md(markdown_table(stats.quarantine)),
    })


DAILY_CHECKS = [
    check("daily_full_coverage", "daily_predictions", "Every arrival has an age, once, within bounds."),
]
DRIFT_CHECKS = [
    check("feature_drift", "daily_monitoring",
          "PSI of every feature and of the predictions against the champion's training data below the threshold.",
          blocking=False),
]


@dg.asset(key=key("daily_predictions"), group_name=GROUP, partitions_def=daily_partitions, deps=[key("daily_arrivals")],
          pool=CATALOG_POOL, check_specs=DAILY_CHECKS, kinds={"parquet", "xgboost"},
          description=f"Arrivals scored with the champion model, in final_results' schema; catalog view {DAILY_VIEW}.")
def daily_predictions(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    day, layout, timing = parse_day(context.partition_key), warehouse.layout(), {}
    target = layout.daily_table("daily_predictions", day)
    with timed(timing):
        models = LoadedModels.champion(warehouse.registry(), JOB, predict_age.xgb_nthread)
        f = score_day(current(layout.daily_table("daily_arrivals", day) / "staging"), target / "batches", target / "final", models,
                      min_features=predict_age.min_features, min_age=predict_age.min_age, max_age=predict_age.max_age,
                      existing_confidence=predict_age.existing_confidence)
    passed = (f["rows"] == f["distinct_pids"] == f["source_pids"] and f["null_ages"] == 0
              and f["out_of_range_ages"] == 0 and f["bad_confidence"] == 0 and f["inconsistent_sources"] == 0)
    if passed:
        pin_published(current(target / "final"))
        warehouse.publish_views({DAILY_VIEW: daily_finals(layout)})
    return dg.MaterializeResult(
        metadata={"day": day.isoformat(), "duration_s": timing["duration_s"], "rows_in": f["source_pids"],
                  "rows_out": f["rows"], "by_source": f["by_source"], "model_version": f["model_version"],
                  "catalog_view": DAILY_VIEW},
        check_results=[result(DAILY_CHECKS[0], passed, **{k: f[k] for k in (
            "rows", "distinct_pids", "source_pids", "null_ages", "out_of_range_ages", "bad_confidence")})],
    )


@dg.asset(key=key("daily_monitoring"), group_name=GROUP, partitions_def=daily_partitions, deps=[key("daily_predictions")],
          check_specs=DRIFT_CHECKS, kinds={"python"},
          description="Population stability index of each feature and of the predictions against training data.")
def daily_monitoring(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    day, layout = parse_day(context.partition_key), warehouse.layout()
    final = current(layout.daily_table("daily_predictions", day) / "final")
    version = model_version_of(final)
    report = monitor_day(current(layout.daily_table("daily_arrivals", day) / "staging"), final, warehouse.registry(),
                         ModelRef.parse(JOB, version))
    worst = report[0]
    drifted = [r["name"] for r in report if r["psi"] > predict_age.drift_psi_threshold]
    return dg.MaterializeResult(
        metadata={"day": day.isoformat(), "model_version": version, "max_psi": worst["psi"],
                  "max_psi_column": worst["name"], "drift": md(markdown_table(report))},
        check_results=[result(DRIFT_CHECKS[0], not drifted, severity=dg.AssetCheckSeverity.WARN,
                              drifted=drifted, threshold=predict_age.drift_psi_threshold, max_psi=worst["psi"])],
    )


assets = [daily_arrivals, daily_predictions, daily_monitoring]
