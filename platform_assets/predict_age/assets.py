"""predict_age as software-defined assets: thin wiring around `platform_core`.

source_snapshot -> staging_features -> training_features -> age_models (quarterly)
  -> prediction_batches (quarter x batch) -> final_results -> human_qa, prediction_batches_cleanup
Each asset measures itself (duration, rows in/out) into its materialization metadata; checks
are computed with the data they judge and the ones that must stop downstream are blocking.
"""



import dagster as dg

from platform_assets.common import (
    CATALOG_POOL,
    GUARDED_EAGER,
    OWNERS,
    check_results,
    check_specs,
    column_schema,
    freshness,
    latest_metadata,
    md,
    png_markdown,
    stage_metadata,
    table_preview,
    timed,
)
from platform_assets.predict_age.config import PredictAgeConfig
from platform_assets.predict_age.keys import JOB, key
from platform_assets.predict_age.logic.evaluation import evaluate_on_missing_rows, missing_rows_sample
from platform_assets.predict_age.logic.gates import (
    FINAL_TABLE_GATES,
    MODEL_GATES,
    WARNINGS,
    final_table_gates,
    inconclusive_warnings,
    model_gates,
    usable_age_gate,
)
from platform_assets.predict_age.logic.model_report import model_card
from platform_assets.predict_age.logic.prediction import LoadedModels, PointModel, predict_batch
from platform_assets.predict_age.logic.publish import (
    FINAL_COLUMNS,
    FINAL_DESCRIPTIONS,
    age_distribution_png,
    batch_file,
    build_final_results,
    build_human_qa,
    final_results_summary,
    qa_report,
    remove_batches,
)
from platform_assets.predict_age.logic.source import CONTRACT, build_source_snapshot
from platform_assets.predict_age.logic.staging import build_staging_features
from platform_assets.predict_age.logic.training import (
    XGBoostSettings,
    build_training_features,
    scoring_population_sample,
    train_age_models,
)
from platform_assets.predict_age.partitions import (
    PREDICT_AGE_BATCHES,
    by_quarter,
    parse_batch,
    quarter_batch_partitions,
    quarterly_partitions,
)
from platform_core.gates import GateResult, all_passed
from platform_core.periods import Quarter
from platform_core.registry import ModelRef, NoChampionError
from platform_core.reports import markdown_table
from platform_core.storage import current, dir_bytes, pin_published
from resources import Warehouse

GROUP = JOB
CODE_VERSION = "2"
COMMON = {"group_name": GROUP, "owners": OWNERS, "code_version": CODE_VERSION, "automation_condition": GUARDED_EAGER}

landing_snapshot = dg.AssetSpec(
    key("landing_snapshot"), group_name=GROUP, owners=OWNERS, partitions_def=quarterly_partitions, kinds={"parquet"},
    description="A delivered quarterly snapshot in `landing/predict_age/<quarter>/` (read-only to the platform); "
                "each delivery is recorded by predict_age_snapshot_sensor with its version.")


SOURCE_CHECKS = check_specs(key("source_snapshot"), {
    "usable_age_rate": "Each existing-age column's usable share is above the floor and has not collapsed since the previous "
                       "quarter (a collapse means a format change).",
    "duplicate_pid_rate": "Share of duplicate pids is below the configured limit.",
    "unknown_value_rate": "In every optional column, the share of values cast to NULL (unknown codes, non-numbers) is below the limit.",
}, quarterly_partitions)


@dg.asset(key=key("source_snapshot"), **COMMON, partitions_def=quarterly_partitions, check_specs=SOURCE_CHECKS,
          deps=[landing_snapshot], kinds={"parquet", "duckdb"},
          metadata={"dagster/column_schema": column_schema(CONTRACT.types(), unique=("pid",))}, description="The quarter's raw snapshot, validated, typed and cleaned; one row per pid.")
def source_snapshot(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = Quarter.parse(context.partition_key), warehouse.layout(), {}
    target = layout.table(JOB, "source_snapshot", quarter)
    with timed(timing):
        stats = build_source_snapshot(layout.landing(JOB, quarter), target, quarter.start, predict_age.min_age,
                                      predict_age.max_age, warehouse.threads)
    previous = latest_metadata(context.instance, key("source_snapshot"), quarter.previous().partition_key)
    figures = {"rows_out": stats.rows_out, "usable_approximate_age": stats.usable_approximate_age,
               "usable_birth_year": stats.usable_birth_year}
    duplicate_rate = stats.duplicate_pids / stats.rows_in
    unknown = [{**q, "rate": round(q["rows"] / stats.rows_in, 6)} for q in stats.quarantine
               if q["column_name"] not in ("pid", "approximate_age", "birth_year")
               and q["rows"] / stats.rows_in > predict_age.max_unknown_value_rate]
    if stats.absent_optional_columns:
        context.log.warning(f"optional columns absent, their features are unavailable: {stats.absent_optional_columns}")
    return dg.MaterializeResult(
        metadata={
            **stage_metadata(quarter.label, stats.rows_in, stats.rows_out, timing["duration_s"]),
            "files": len(stats.files),
            "duplicate_pids": stats.duplicate_pids,
            "usable_approximate_age": stats.usable_approximate_age,
            "usable_birth_year": stats.usable_birth_year,
            "extra_columns": stats.extra_columns,
            "absent_optional_columns": stats.absent_optional_columns,
            "quarantine": table_preview(stats.quarantine),
            "bytes_written": dir_bytes(current(target)),
            "path": dg.MetadataValue.path(str(target)),
        },
        check_results=check_results(SOURCE_CHECKS, [
            usable_age_gate(figures, predict_age.min_usable_age_rate, predict_age.max_usable_rate_drop, previous),
            GateResult("duplicate_pid_rate", duplicate_rate <= predict_age.max_duplicate_pid_rate,
                       {"duplicate_pids": stats.duplicate_pids, "rate": round(duplicate_rate, 6),
                        "limit": predict_age.max_duplicate_pid_rate, "sample": markdown_table(stats.duplicate_sample)}),
            GateResult("unknown_value_rate", not unknown,
                       {"over_limit": markdown_table(unknown), "limit": predict_age.max_unknown_value_rate}),
        ]),
    )


@dg.asset(key=key("staging_features"), **COMMON, partitions_def=quarterly_partitions, deps=[key("source_snapshot")],
          kinds={"parquet", "duckdb"},
          description="Typed features, existing age, smart-filter flag and prediction bucket for every pid.")
def staging_features(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    quarter, layout, timing = Quarter.parse(context.partition_key), warehouse.layout(), {}
    target = layout.table(JOB, "staging_features", quarter)
    with timed(timing):
        stats = build_staging_features(current(layout.table(JOB, "source_snapshot", quarter)), target, quarter.start,
                                       PREDICT_AGE_BATCHES, warehouse.threads)
    return dg.MaterializeResult(metadata={
        **stage_metadata(quarter.label, stats["rows"], stats["rows"], timing["duration_s"]),
        "rows_with_existing_age": stats["rows_with_existing_age"],
        "rows_needing_prediction": stats["rows_needing_prediction"],
        "existing_approx_age": stats["existing_approx_age"],
        "existing_birth_year": stats["existing_birth_year"],
        "buckets": stats["buckets"],
        "rows_per_bucket": stats["rows_per_bucket"],
        "bytes_written": dir_bytes(current(target)),
    })


@dg.asset(key=key("training_features"), **COMMON, partitions_def=quarterly_partitions, deps=[key("staging_features")],
          kinds={"parquet", "duckdb"},
          description="Rows with a trustworthy age, sampled per age band, split train/validation/calibration/test.")
def training_features(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = Quarter.parse(context.partition_key), warehouse.layout(), {}
    target = layout.table(JOB, "training_features", quarter) / "training_features.parquet"
    with timed(timing):
        stats = build_training_features(current(layout.table(JOB, "staging_features", quarter)), target,
                                        predict_age.training_max_rows, predict_age.seed, warehouse.threads)
    return dg.MaterializeResult(metadata={
        **stage_metadata(quarter.label, stats["rows_available"], stats["rows"], timing["duration_s"]),
        "splits": stats["splits"], "max_rows": predict_age.training_max_rows, "bytes_written": dir_bytes(target),
    })


MODEL_CHECKS = check_specs(key("age_models"), MODEL_GATES, quarterly_partitions, warn_only=("not_worse_than_champion", *WARNINGS))


@dg.asset(key=key("age_models"), **COMMON, partitions_def=quarterly_partitions, deps=[key("training_features")],
          check_specs=MODEL_CHECKS, kinds={"xgboost", "scikitlearn"},
          description="Ridge baseline, XGBoost point model and calibrated XGBoost quantile model, in the registry; "
                      "promoted to champion only when every gate passes.")
def age_models(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = Quarter.parse(context.partition_key), warehouse.layout(), {}
    training_path = layout.table(JOB, "training_features", quarter) / "training_features.parquet"
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
            champion=champion, scoring_population=scoring_population_sample(current(layout.table(JOB, "staging_features", quarter))),
        )
    ev = trained.evaluation
    gates, fairness, judged = model_gates(ev, trained.held_out, predict_age)
    gate_record = {"gates": [{"name": g.name, "passed": g.passed} for g in gates], "fairness_gates": fairness}
    refs = {name: registry.register(JOB, name, quarter.label, trained.files[name], {**trained.metadata[name], **gate_record})
            for name in trained.files}
    checks = check_results(MODEL_CHECKS, gates)
    for line in inconclusive_warnings(fairness, judged):
        context.log.warning(line)
    passed = all(g.passed for g in gates if g.name not in WARNINGS)
    promoted = passed and registry.promote(JOB, refs, reason=f"trained on {quarter.label}, all model gates passed")
    reason = "a model gate failed" if not passed else "these versions were rolled back by a person"
    if not promoted:
        context.log.error(f"{reason}: the new models stay in the registry but are not promoted")
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
            "fairness_gates": fairness,
            "judged": judged,
            "champion_before": ev.get("champion"),
            "model_card": md(model_card(quarter.label, ev, versions, promoted, fairness, reason)),
        },
        check_results=checks,
    )


@dg.asset(key=key("missing_rows_evaluation"), **COMMON, partitions_def=quarterly_partitions,
          deps=[key("age_models"), key("staging_features")], kinds={"xgboost"},
          description="Synthetic world only: each model of the quarter scored against ground truth on the rows that "
                      "were missing, side by side with its holdout metrics.")
def missing_rows_evaluation(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = Quarter.parse(context.partition_key), warehouse.layout(), {}
    truth = layout.truth(JOB, quarter)
    if not truth.exists():
        return dg.MaterializeResult(metadata={"quarter": quarter.label, "skipped": "no ground truth for this quarter"})
    versions = latest_metadata(context.instance, key("age_models"), context.partition_key)["versions"]
    registry = warehouse.registry()
    refs = {m: ModelRef.parse(JOB, v) for m, v in versions.items()}
    with timed(timing):
        frame = missing_rows_sample(current(layout.table(JOB, "staging_features", quarter)), truth, predict_age.evaluation_sample_rows)
        evaluation = evaluate_on_missing_rows(registry, refs, frame, predict_age.xgb_nthread)
    table = [{"model": m, "split": split, **evaluation[m][key_]} for m in ("ridge", "xgboost")
             for split, key_ in (("holdout (had an age)", "holdout"), ("previously missing", "missing_rows"))]
    return dg.MaterializeResult(metadata={
        "quarter": quarter.label, "duration_s": timing["duration_s"], "rows_in": evaluation["rows"],
        "ridge": evaluation["ridge"]["missing_rows"], "xgboost": evaluation["xgboost"]["missing_rows"],
        "comparison": md(markdown_table(table)),
        "xgboost_missing_rows_by_age_band": md(markdown_table(evaluation["xgboost"]["missing_rows_by_age_band"])),
    })


@dg.asset(key=key("prediction_batches"), **COMMON, partitions_def=quarter_batch_partitions,
          deps=[dg.AssetDep(key("age_models"), partition_mapping=by_quarter),
                dg.AssetDep(key("staging_features"), partition_mapping=by_quarter)],
          backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
          kinds={"parquet", "xgboost"},
          description="One bucket's rows without a usable age, scored by the champion model; one Parquet file per batch.")
def prediction_batches(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    quarter, bucket, layout, timing = Quarter.parse(keys["quarter"]), parse_batch(keys["batch"]), warehouse.layout(), {}
    target = batch_file(layout.table(JOB, "prediction_batches", quarter), bucket)
    with timed(timing):
        models = LoadedModels.champion(warehouse.registry(), JOB, predict_age.xgb_nthread)
        stats = predict_batch(current(layout.table(JOB, "staging_features", quarter)), bucket, target, models,
                              min_features=predict_age.min_features, min_age=predict_age.min_age,
                              max_age=predict_age.max_age)
    return dg.MaterializeResult(metadata={
        **stage_metadata(quarter.label, stats["rows_in"], stats["rows_out"], timing["duration_s"]),
        "batch": keys["batch"], "by_source": stats["by_source"], "model_version": stats["model_version"],
        "mean_confidence": stats["mean_confidence"], "bytes_written": dir_bytes(target),
    })


FINAL_CHECKS = check_specs(key("final_results"), FINAL_TABLE_GATES, quarterly_partitions)


@dg.asset(key=key("final_results"), **COMMON, partitions_def=quarterly_partitions, pool=CATALOG_POOL,
          deps=[dg.AssetDep(key("prediction_batches"), partition_mapping=by_quarter), key("staging_features")],
          check_specs=FINAL_CHECKS, kinds={"parquet", "duckdb"}, freshness_policy=freshness(days=100),
          metadata={"dagster/column_schema": column_schema(FINAL_COLUMNS, FINAL_DESCRIPTIONS, unique=("pid",))},
          description="Every pid with an age, its source and confidence; merged per bucket; "
                      "exposed in the catalog as `predict_age_final_results_<quarter>` once its checks pass.")
def final_results(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter, layout, timing = Quarter.parse(context.partition_key), warehouse.layout(), {}
    staging, target = current(layout.table(JOB, "staging_features", quarter)), layout.table(JOB, "final_results", quarter)
    with timed(timing):
        f = build_final_results(staging, layout.table(JOB, "prediction_batches", quarter), target, PREDICT_AGE_BATCHES,
                                existing_confidence=predict_age.existing_confidence, min_age=predict_age.min_age,
                                max_age=predict_age.max_age, threads=warehouse.threads)
        written = current(target)
        summary = final_results_summary(written)
    gates = final_table_gates(f)
    view = f"predict_age_final_results_{quarter.label}"
    if all_passed(gates):
        pin_published(written)  # kept before the view points at it
        warehouse.publish_views({view: written})
    else:
        context.log.error(f"final_results failed its checks: catalog view {view} left as it was")
    return dg.MaterializeResult(
        metadata={
            **stage_metadata(quarter.label, f["source_pids"], f["rows"], timing["duration_s"]),
            "by_source": md(markdown_table(summary["by_source"])),
            "schema": summary["schema"],
            "catalog_view": view,
            "dagster/table_name": view,
            "preview": table_preview(summary["preview"]),
            "bytes_written": dir_bytes(written),
        },
        check_results=check_results(FINAL_CHECKS, gates),
    )


@dg.asset(key=key("human_qa"), **COMMON, partitions_def=quarterly_partitions, pool=CATALOG_POOL,
          deps=[key("final_results"), key("age_models")], kinds={"parquet", "duckdb"},
          description="Tables and a report for people to review: sources, age groups, confidence, previous quarter, "
                      "quarantine, spot checks.")
def human_qa(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    quarter, layout, timing = Quarter.parse(context.partition_key), warehouse.layout(), {}
    target = layout.table(JOB, "human_qa", quarter)
    with timed(timing):
        tables = build_human_qa(*(current(layout.table(JOB, name, q)) for name, q in (
            ("final_results", quarter), ("source_snapshot", quarter), ("final_results", quarter.previous()))),
            layout.truth(JOB, quarter), target)
        models = latest_metadata(context.instance, key("age_models"), context.partition_key)
        evaluation = {"fairness": models["fairness"]} if models else None
        report = qa_report(quarter.label, tables, evaluation)
        plot = target.parent / f"{quarter.label}-age_groups.png"
        age_distribution_png(tables["qa_age_groups"], plot)
    written = current(target)
    warehouse.publish_views({f"predict_age_{name}_{quarter.label}": written / f"{name}.parquet"
                             for name in ("qa_by_source", "qa_age_groups", "qa_confidence")})
    return dg.MaterializeResult(metadata={
        "quarter": quarter.label, "duration_s": timing["duration_s"],
        "report": md(report + "\n" + png_markdown({"age groups": plot}) + "\n"),
        "plot": dg.MetadataValue.path(str(plot)),
        "truth_accuracy": tables.get("truth_accuracy", []),
        "by_source": tables["qa_by_source"],
    })


@dg.asset(key=key("prediction_batches_cleanup"), **COMMON, partitions_def=quarterly_partitions,
          deps=[key("final_results")],
          description="Applies the batch retention policy, only after final_results passed its blocking checks.")
def prediction_batches_cleanup(context: dg.AssetExecutionContext, warehouse: Warehouse, predict_age: PredictAgeConfig) -> dg.MaterializeResult:
    quarter = Quarter.parse(context.partition_key)
    batches = warehouse.layout().table("predict_age", "prediction_batches", quarter)
    removed = remove_batches(batches) if predict_age.batch_retention == "delete" else 0
    return dg.MaterializeResult(metadata={"quarter": quarter.label, "policy": predict_age.batch_retention,
                                          "batch_files_removed": removed})


assets = [landing_snapshot, source_snapshot, staging_features, training_features, age_models, missing_rows_evaluation,
          prediction_batches, final_results,
          human_qa, prediction_batches_cleanup]
