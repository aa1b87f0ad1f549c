"""predict_age as software-defined assets: thin wiring around `platform_core`.

source_snapshot -> staging_features -> training_features -> age_models (quarterly)
  -> prediction_batches (quarter x batch) -> final_results -> human_qa, prediction_batches_cleanup
Each asset measures itself (duration, rows in/out) into its materialization metadata; checks
are computed with the data they judge and the ones that must stop downstream are blocking.
"""


import base64

import dagster as dg
import numpy as np

from platform_assets.common import CATALOG_POOL, JOB, check, key, latest_metadata, md, quarter_of, result, stage_metadata, timed
from platform_assets.partitions import PREDICT_AGE_BATCHES, by_quarter, quarter_batch_partitions, quarterly_partitions
from platform_core.evaluation import evaluate_on_missing_rows, missing_rows_sample
from platform_core.fairness import FairnessThresholds
from platform_core.model_report import decile_correlation, fairness_gates, model_card
from platform_core.prediction import LoadedModels, PointModel, predict_batch
from platform_core.publish import (
    age_distribution_png,
    batch_file,
    build_final_results,
    build_human_qa,
    final_results_summary,
    markdown_table,
    qa_report,
    remove_batches,
)
from platform_core.quarters import Quarter, parse_batch
from platform_core.registry import ModelRef, NoChampionError
from platform_core.source import build_source_snapshot
from platform_core.staging import build_staging_features
from platform_core.storage import current, dir_bytes, pin_published
from platform_core.training import XGBoostSettings, build_training_features, scoring_population_sample, train_age_models
from resources import PredictAgeConfig, Warehouse

GROUP = "predict_age"


SOURCE_CHECKS = [
    check("usable_age_rate", "source_snapshot",
          "Share of rows with a usable existing age is above the configured floor (a collapse means a format change)."),
    check("duplicate_pid_rate", "source_snapshot", "Share of duplicate pids is below the configured limit."),
    check("unknown_value_rate", "source_snapshot",
          "In every optional column, the share of values cast to NULL (unknown codes, non-numbers) is below the limit."),
]


@dg.asset(key=key("source_snapshot"), group_name=GROUP, partitions_def=quarterly_partitions, check_specs=SOURCE_CHECKS,
          kinds={"parquet", "duckdb"}, description="The quarter's raw snapshot, validated, typed and cleaned; one row per pid.")
def source_snapshot(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = quarter_of(context), warehouse.layout(), {}
    target = layout.table("source_snapshot", quarter)
    with timed(timing):
        stats = build_source_snapshot(layout.landing(JOB, quarter), target, quarter.start, predict_age.min_age,
                                      predict_age.max_age, warehouse.threads)
    usable = stats.usable_approximate_age + stats.usable_birth_year
    usable_rate = (stats.rows_out and usable / stats.rows_out)  # an upper bound: a pid may have both
    known_rate = stats.rows_out and stats.usable_approximate_age / stats.rows_out
    duplicate_rate = stats.duplicate_pids / stats.rows_in
    unknown = [{**q, "rate": round(q["rows"] / stats.rows_in, 6)} for q in stats.quarantine
               if q["column_name"] not in ("pid", "approximate_age", "birth_year")
               and q["rows"] / stats.rows_in > predict_age.max_unknown_value_rate]
    if stats.absent_optional_columns:
        context.log.warning(f"optional columns absent, their features are unavailable: {stats.absent_optional_columns}")
    return dg.MaterializeResult(
        metadata={
            **stage_metadata(quarter, stats.rows_in, stats.rows_out, timing["duration_s"]),
            "files": len(stats.files),
            "duplicate_pids": stats.duplicate_pids,
            "usable_approximate_age": stats.usable_approximate_age,
            "usable_birth_year": stats.usable_birth_year,
            "extra_columns": stats.extra_columns,
            "absent_optional_columns": stats.absent_optional_columns,
            "quarantine": md(markdown_table(stats.quarantine)),
            "bytes_written": dir_bytes(current(target)),
            "path": dg.MetadataValue.path(str(target)),
        },
        check_results=[
            result(SOURCE_CHECKS[0], usable_rate >= predict_age.min_usable_age_rate,
                   usable_rate=round(usable_rate, 4), usable_approximate_age_rate=round(known_rate, 4),
                   floor=predict_age.min_usable_age_rate),
            result(SOURCE_CHECKS[1], duplicate_rate <= predict_age.max_duplicate_pid_rate,
                   duplicate_pids=stats.duplicate_pids, rate=round(duplicate_rate, 6), limit=predict_age.max_duplicate_pid_rate,
                   sample=md(markdown_table(stats.duplicate_sample))),
            result(SOURCE_CHECKS[2], not unknown, over_limit=md(markdown_table(unknown)),
                   limit=predict_age.max_unknown_value_rate),
        ],
    )


@dg.asset(key=key("staging_features"), group_name=GROUP, partitions_def=quarterly_partitions, deps=[key("source_snapshot")],
          kinds={"parquet", "duckdb"},
          description="Typed features, existing age, smart-filter flag and prediction bucket for every pid.")
def staging_features(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    quarter, layout, timing = quarter_of(context), warehouse.layout(), {}
    target = layout.table("staging_features", quarter)
    with timed(timing):
        stats = build_staging_features(current(layout.table("source_snapshot", quarter)), target, quarter.start,
                                       PREDICT_AGE_BATCHES, warehouse.threads)
    return dg.MaterializeResult(metadata={
        **stage_metadata(quarter, stats["rows"], stats["rows"], timing["duration_s"]),
        "rows_with_existing_age": stats["rows_with_existing_age"],
        "rows_needing_prediction": stats["rows_needing_prediction"],
        "existing_approx_age": stats["existing_approx_age"],
        "existing_birth_year": stats["existing_birth_year"],
        "buckets": stats["buckets"],
        "rows_per_bucket": stats["rows_per_bucket"],
        "bytes_written": dir_bytes(current(target)),
    })


@dg.asset(key=key("training_features"), group_name=GROUP, partitions_def=quarterly_partitions, deps=[key("staging_features")],
          kinds={"parquet", "duckdb"},
          description="Rows with a trustworthy age, sampled per age band, split train/validation/calibration/test.")
def training_features(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = quarter_of(context), warehouse.layout(), {}
    target = layout.table("training_features", quarter) / "training_features.parquet"
    with timed(timing):
        stats = build_training_features(current(layout.table("staging_features", quarter)), target,
                                        predict_age.training_max_rows, predict_age.seed, warehouse.threads)
    return dg.MaterializeResult(metadata={
        **stage_metadata(quarter, stats["rows_available"], stats["rows"], timing["duration_s"]),
        "splits": stats["splits"], "max_rows": predict_age.training_max_rows, "bytes_written": dir_bytes(target),
    })


MODEL_CHECKS = [
    check("holdout_quality", "age_models", "XGBoost held-out MAE and share within 5 years meet the configured floors."),
    check("beats_baseline", "age_models", "XGBoost beats the Ridge baseline on held-out MAE."),
    check("interval_calibration", "age_models",
          "The calibrated interval covers its nominal share of held-out rows, within the tolerance."),
    check("confidence_ranks_errors", "age_models",
          "Held-out MAE falls as confidence rises: decile MAE strongly anti-correlated with confidence."),
    check("fairness", "age_models",
          "Per-group MAE ratio and |bias| across gender, region and age band within the configured thresholds."),
    check("not_worse_than_champion", "age_models",
          "Held-out MAE no worse than the current champion's on the same rows, beyond the tolerance."),
]


@dg.asset(key=key("age_models"), group_name=GROUP, partitions_def=quarterly_partitions, deps=[key("training_features")],
          check_specs=MODEL_CHECKS, kinds={"xgboost", "scikitlearn"},
          description="Ridge baseline, XGBoost point model and calibrated XGBoost quantile model, in the registry; "
                      "promoted to champion only when every gate passes.")
def age_models(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = quarter_of(context), warehouse.layout(), {}
    training_path = layout.table("training_features", quarter) / "training_features.parquet"
    registry = warehouse.registry()
    try:
        champion = PointModel.load(registry, registry.champion(JOB)["xgboost"], predict_age.xgb_nthread)
    except NoChampionError:
        champion = None
    with timed(timing):
        trained = train_age_models(
            training_path, sensitive_as_features=predict_age.sensitive_as_features,
            interval_coverage=predict_age.interval_coverage,
            xgb=XGBoostSettings(nthread=predict_age.xgb_nthread, seed=predict_age.seed, max_depth=predict_age.xgb_max_depth,
                               rounds=predict_age.xgb_rounds),
            champion=champion, scoring_population=scoring_population_sample(current(layout.table("staging_features", quarter))),
        )
    refs = {name: registry.register(JOB, name, quarter.label, trained.files[name], trained.metadata[name])
            for name in trained.files}
    ev = trained.evaluation
    coverage = ev["interval"]["coverage"]
    # the configured tolerance, widened to the 99% binomial band when the test split is small
    nominal = predict_age.interval_coverage
    allowed_deviation = max(predict_age.interval_tolerance, 2.576 * float(np.sqrt(nominal * (1 - nominal) / ev["test_rows"])))
    checks = [
        result(MODEL_CHECKS[0], ev["xgboost"]["mae"] <= predict_age.max_holdout_mae
               and ev["xgboost"]["within_5"] >= predict_age.min_holdout_within_5,
               mae=ev["xgboost"]["mae"], within_5=ev["xgboost"]["within_5"],
               max_mae=predict_age.max_holdout_mae, min_within_5=predict_age.min_holdout_within_5),
        result(MODEL_CHECKS[1], ev["xgboost"]["mae"] < ev["ridge"]["mae"],
               xgboost_mae=ev["xgboost"]["mae"], ridge_mae=ev["ridge"]["mae"]),
        result(MODEL_CHECKS[2], abs(coverage - predict_age.interval_coverage) <= allowed_deviation,
               coverage=coverage, nominal=predict_age.interval_coverage, allowed_deviation=round(allowed_deviation, 4),
               mean_width=ev["interval"]["mean_width"]),
    ]
    deciles = ev["confidence_deciles"]
    correlation = decile_correlation(deciles)
    gates = fairness_gates(
        ev["fairness"],
        FairnessThresholds(predict_age.fairness_max_mae_ratio, predict_age.fairness_max_abs_bias,
                           predict_age.fairness_min_group_rows),
        FairnessThresholds(predict_age.fairness_age_band_max_mae_ratio, predict_age.fairness_age_band_max_abs_bias,
                           predict_age.fairness_min_group_rows))
    champion_mae = ev.get("champion", {}).get("mae")
    checks += [
        result(MODEL_CHECKS[3], correlation <= -0.6 and deciles[-1]["mae"] < deciles[0]["mae"],
               spearman=round(correlation, 4), lowest_decile_mae=deciles[0]["mae"], highest_decile_mae=deciles[-1]["mae"]),
        result(MODEL_CHECKS[4], all(g["passed"] for g in gates), gates=md(markdown_table(gates)),
               groups=md(markdown_table(ev["fairness"]))),
        result(MODEL_CHECKS[5], champion_mae is None or ev["xgboost"]["mae"] <= champion_mae * (1 + predict_age.champion_tolerance),
               candidate_mae=ev["xgboost"]["mae"], champion_mae=champion_mae,
               champion=ev.get("champion", {}).get("version", "none yet"), tolerance=predict_age.champion_tolerance),
    ]
    promoted = all(c.passed for c in checks)
    if promoted:
        registry.promote(JOB, refs, reason=f"trained on {quarter.label}, all model gates passed")
    else:
        context.log.error("a model gate failed: the new models stay in the registry but are not promoted")
    versions = {name: str(ref) for name, ref in refs.items()}
    return dg.MaterializeResult(
        metadata={
            "quarter": quarter.label, "duration_s": timing["duration_s"],
            "rows_in": sum(trained.metadata["xgboost"]["training_rows"].values()),
            "versions": versions, "promoted": promoted,
            "ridge": ev["ridge"], "xgboost": ev["xgboost"], "interval": ev["interval"],
            "best_iteration": trained.metadata["xgboost"]["best_iteration"],
            "default_rule": trained.metadata["xgboost"]["default_rule"],
            "fairness": ev["fairness"],
            "fairness_gates": gates,
            "champion_before": ev.get("champion"),
            "model_card": md(model_card(quarter.label, ev, versions, promoted, gates)),
        },
        check_results=checks,
    )


@dg.asset(key=key("missing_rows_evaluation"), group_name=GROUP, partitions_def=quarterly_partitions,
          deps=[key("age_models"), key("staging_features")], kinds={"xgboost"},
          description="Synthetic world only: each model of the quarter scored against ground truth on the rows that "
                      "were missing, side by side with its holdout metrics.")
def missing_rows_evaluation(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = quarter_of(context), warehouse.layout(), {}
    truth = layout.truth(JOB, quarter)
    if not truth.exists():
        return dg.MaterializeResult(metadata={"quarter": quarter.label, "skipped": "no ground truth for this quarter"})
    versions = latest_metadata(context.instance, "age_models", context.partition_key)["versions"]
    registry = warehouse.registry()
    refs = {m: ModelRef.parse(JOB, v) for m, v in versions.items()}
    with timed(timing):
        frame = missing_rows_sample(current(layout.table("staging_features", quarter)), truth, predict_age.evaluation_sample_rows)
        evaluation = evaluate_on_missing_rows(registry, refs, frame, predict_age.xgb_nthread)
    table = [{"model": m, "split": split, **evaluation[m][key_]} for m in ("ridge", "xgboost")
             for split, key_ in (("holdout (had an age)", "holdout"), ("previously missing", "missing_rows"))]
    return dg.MaterializeResult(metadata={
        "quarter": quarter.label, "duration_s": timing["duration_s"], "rows_in": evaluation["rows"],
        "ridge": evaluation["ridge"]["missing_rows"], "xgboost": evaluation["xgboost"]["missing_rows"],
        "comparison": md(markdown_table(table)),
        "xgboost_missing_rows_by_age_band": md(markdown_table(evaluation["xgboost"]["missing_rows_by_age_band"])),
    })


@dg.asset(key=key("prediction_batches"), group_name=GROUP, partitions_def=quarter_batch_partitions,
          deps=[dg.AssetDep(key("age_models"), partition_mapping=by_quarter),
                dg.AssetDep(key("staging_features"), partition_mapping=by_quarter)],
          backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
          kinds={"parquet", "xgboost"},
          description="One bucket's rows without a usable age, scored by the champion model; one Parquet file per batch.")
def prediction_batches(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    quarter, bucket, layout, timing = Quarter.parse(keys["quarter"]), parse_batch(keys["batch"]), warehouse.layout(), {}
    target = batch_file(layout.table("prediction_batches", quarter), bucket)
    with timed(timing):
        models = LoadedModels.champion(warehouse.registry(), JOB, predict_age.xgb_nthread)
        stats = predict_batch(current(layout.table("staging_features", quarter)), bucket, target, models,
                              min_features=predict_age.min_features, min_age=predict_age.min_age,
                              max_age=predict_age.max_age)
    return dg.MaterializeResult(metadata={
        **stage_metadata(quarter, stats["rows_in"], stats["rows_out"], timing["duration_s"]),
        "batch": keys["batch"], "by_source": stats["by_source"], "model_version": stats["model_version"],
        "mean_confidence": stats["mean_confidence"], "bytes_written": dir_bytes(target),
    })


FINAL_CHECKS = [
    check("row_count_matches_source", "final_results", "One row per distinct source pid."),
    check("pid_unique", "final_results", "No pid appears twice."),
    check("full_coverage", "final_results", "Every row has a predicted_age."),
    check("age_in_bounds", "final_results", "Every predicted_age lies within the configured bounds."),
    check("confidence_in_unit_range", "final_results", "Every confidence_score lies in [0, 1]."),
    check("sources_consistent", "final_results",
          "Rows with a usable existing age carry it (EXISTING_*); the rest are ML_PREDICTION or DEFAULT_RULE."),
]


@dg.asset(key=key("final_results"), group_name=GROUP, partitions_def=quarterly_partitions, pool=CATALOG_POOL,
          deps=[dg.AssetDep(key("prediction_batches"), partition_mapping=by_quarter), key("staging_features")],
          check_specs=FINAL_CHECKS, kinds={"parquet", "duckdb"},
          description="Every pid with an age, its source and confidence; merged per bucket; "
                      "exposed in the catalog as predict_age_final_results_<quarter> once its checks pass.")
def final_results(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = quarter_of(context), warehouse.layout(), {}
    staging, target = current(layout.table("staging_features", quarter)), layout.table("final_results", quarter)
    with timed(timing):
        f = build_final_results(staging, layout.table("prediction_batches", quarter), target, PREDICT_AGE_BATCHES,
                                existing_confidence=predict_age.existing_confidence, min_age=predict_age.min_age,
                                max_age=predict_age.max_age, threads=warehouse.threads)
        written = current(target)
        summary = final_results_summary(written)
    checks = [
        result(FINAL_CHECKS[0], f["rows"] == f["source_pids"], rows=f["rows"], source_pids=f["source_pids"]),
        result(FINAL_CHECKS[1], f["distinct_pids"] == f["rows"], rows=f["rows"], distinct_pids=f["distinct_pids"]),
        result(FINAL_CHECKS[2], f["null_ages"] == 0, null_ages=f["null_ages"]),
        result(FINAL_CHECKS[3], f["out_of_range_ages"] == 0, out_of_range=f["out_of_range_ages"]),
        result(FINAL_CHECKS[4], f["bad_confidence"] == 0, bad_confidence=f["bad_confidence"]),
        result(FINAL_CHECKS[5], f["inconsistent_sources"] == 0, inconsistent=f["inconsistent_sources"]),
    ]
    view = f"predict_age_final_results_{quarter.label}"
    if all(c.passed for c in checks):
        warehouse.publish_views({view: written})
        pin_published(written)
    else:
        context.log.error(f"final_results failed its checks: catalog view {view} left as it was")
    return dg.MaterializeResult(
        metadata={
            **stage_metadata(quarter, f["source_pids"], f["rows"], timing["duration_s"]),
            "by_source": md(markdown_table(summary["by_source"])),
            "schema": summary["schema"],
            "catalog_view": view,
            "preview": md(markdown_table(summary["preview"])),
            "bytes_written": dir_bytes(written),
        },
        check_results=checks,
    )


@dg.asset(key=key("human_qa"), group_name=GROUP, partitions_def=quarterly_partitions, pool=CATALOG_POOL,
          deps=[key("final_results"), key("age_models")], kinds={"parquet", "duckdb"},
          description="Tables and a report for people to review: sources, age groups, confidence, previous quarter, "
                      "quarantine, spot checks.")
def human_qa(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    quarter, layout, timing = quarter_of(context), warehouse.layout(), {}
    target = layout.table("human_qa", quarter)
    with timed(timing):
        tables = build_human_qa(*(current(layout.table(name, q)) for name, q in (
            ("final_results", quarter), ("source_snapshot", quarter), ("final_results", quarter.previous()))),
            layout.truth(JOB, quarter), target)
        models = latest_metadata(context.instance, "age_models", context.partition_key)
        evaluation = {"fairness": models["fairness"]} if models else None
        report = qa_report(quarter.label, tables, evaluation)
        plot = target.parent / f"{quarter.label}-age_groups.png"
        age_distribution_png(tables["qa_age_groups"], plot)
    image = base64.b64encode(plot.read_bytes()).decode()
    written = current(target)
    warehouse.publish_views({f"predict_age_{name}_{quarter.label}": written / f"{name}.parquet"
                             for name in ("qa_by_source", "qa_age_groups", "qa_confidence")})
    return dg.MaterializeResult(metadata={
        "quarter": quarter.label, "duration_s": timing["duration_s"],
        "report": md(report + f"\n![age groups](data:image/png;base64,{image})\n"),
        "plot": dg.MetadataValue.path(str(plot)),
        "truth_accuracy": tables.get("truth_accuracy", []),
        "by_source": tables["qa_by_source"],
    })


@dg.asset(key=key("prediction_batches_cleanup"), group_name=GROUP, partitions_def=quarterly_partitions,
          deps=[key("final_results")],
          description="Applies the batch retention policy, only after final_results passed its blocking checks.")
def prediction_batches_cleanup(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter = quarter_of(context)
    batches = warehouse.layout().table("prediction_batches", quarter)
    removed = remove_batches(batches) if predict_age.batch_retention == "delete" else 0
    return dg.MaterializeResult(metadata={"quarter": quarter.label, "policy": predict_age.batch_retention,
                                          "batch_files_removed": removed})


assets = [source_snapshot, staging_features, training_features, age_models, missing_rows_evaluation,
          prediction_batches, final_results,
          human_qa, prediction_batches_cleanup]
