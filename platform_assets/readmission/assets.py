"""readmission as software-defined assets: thin wiring around `readmission.logic`.

landing_encounters (external, monthly) -> encounters_silver -> feature_store + label_store (gold, monthly)
-> training_prerequisites (the seed's three preconditions as blocking checks) -> readmission_models
(three algorithms tuned, evaluated, registered; champions on test AUC) -> model_comparison, and per
month readmission_scores (catalog view `readmission_scores_<YYYY_MM>`) -> readmission_monitoring.
The monthly gold assets take a range of months in one run (single-run backfills): the model reads
ten years of them.
"""

from datetime import datetime, timezone

import dagster as dg
import polars as pl

from platform_assets.common import (
    CATALOG_POOL,
    GUARDED_EAGER,
    OWNERS,
    check_results,
    check_specs,
    column_schema,
    freshness,
    md,
    png_markdown,
    stage_metadata,
    table_preview,
    timed,
)
from platform_assets.readmission.config import ReadmissionConfig
from platform_assets.readmission.keys import JOB, key
from platform_assets.readmission.logic.gold import build_feature_store, build_label_store
from platform_assets.readmission.logic.silver import build_or_set_aside
from platform_assets.readmission.partitions import monthly_partitions
from platform_core.gates import GateResult, all_passed
from platform_core.periods import month_label, parse_month
from platform_core.reports import markdown_table
from platform_core.storage import current, dir_bytes, pin_published
from resources import Warehouse

GROUP = JOB
COMMON = {"group_name": GROUP, "owners": OWNERS, "code_version": "1"}
MONTHLY = {**COMMON, "partitions_def": monthly_partitions, "automation_condition": GUARDED_EAGER}
# gold months arrive as ranges: one run reads and writes each month of the range
HISTORY = {**MONTHLY, "backfill_policy": dg.BackfillPolicy.single_run()}
UNPARTITIONED = {**COMMON, "automation_condition": GUARDED_EAGER}

landing_encounters = dg.AssetSpec(
    key("landing_encounters"), group_name=GROUP, owners=OWNERS, partitions_def=monthly_partitions, kinds={"parquet"},
    description="A delivered month of hospital encounters in `landing/readmission/<YYYY-MM>/` (read-only to the platform); "
                "each delivery is recorded by readmission_encounters_sensor with its version.")


def _months(context: dg.AssetExecutionContext) -> list[str]:
    return [month_label(parse_month(k)) for k in context.partition_keys]


def _range_label(months: list[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


SILVER_CHECKS = check_specs(key("encounters_silver"), {
    "duplicate_rate": "In every month, the share of duplicate encounter ids is below the configured limit.",
    "unparseable_code_rate": "In every month, the share of diagnosis codes that are not ICD-9 is below the configured limit.",
}, monthly_partitions)


def _warn_set_aside(context: dg.AssetExecutionContext, stage: str, figures: list[dict]) -> list[dict]:
    """The months of a run that were set aside, each logged as a warning."""
    aside = [{"month": f["month"], "reason": f["set_aside"]} for f in figures if f.get("set_aside")]
    for month in aside:
        context.log.warning(f"{stage}: month {month['month']} set aside, no data for it: {month['reason']}")
    return aside


@dg.asset(key=key("encounters_silver"), **HISTORY, deps=[landing_encounters], check_specs=SILVER_CHECKS,
          kinds={"parquet", "duckdb"},
          description="Encounters typed and cleaned: '?' to NULL with counts, ICD-9 codes grouped into chapters "
                      "(unparseable codes counted), duplicates set aside and counted. A month whose delivery is "
                      "refused is set aside (named, with the reason) and the other months go on.")
def encounters_silver(context: dg.AssetExecutionContext, warehouse: Warehouse, readmission: ReadmissionConfig) -> dg.MaterializeResult:
    months, layout, timing = _months(context), warehouse.layout(), {}
    with timed(timing):
        figures = [build_or_set_aside(layout, m, warehouse.threads) for m in months]
    aside = _warn_set_aside(context, "encounters_silver", figures)
    built = [f for f in figures if not f["set_aside"]]
    rows_in, rows_out = sum(b["rows_in"] for b in built), sum(b["rows_out"] for b in built)
    duplicates = [{"month": b["month"], "duplicates": b["duplicates"], "rate": round(b["duplicates"] / b["rows_in"], 6)}
                  for b in built if b["duplicates"] / b["rows_in"] > readmission.max_duplicate_rate]
    codes = [{"month": b["month"], "unparseable": sum(b["unparseable_codes"].values()),
              "rate": round(sum(b["unparseable_codes"].values()) / (3 * b["rows_in"]), 6)} for b in built]
    bad_codes = [c for c in codes if c["rate"] > readmission.max_unknown_code_rate]
    unknown: dict[str, int] = {}
    for b in built:
        for column, n in b["unknown_values"].items():
            unknown[column] = unknown.get(column, 0) + n
    return dg.MaterializeResult(
        metadata={**stage_metadata(_range_label(months), rows_in, rows_out, timing["duration_s"]), "months": len(months),
                  "unknown_values": table_preview([{"column": c, "rows": n, "share": round(n / rows_in, 4)}
                                                   for c, n in sorted(unknown.items(), key=lambda i: -i[1])]),
                  "duplicates": sum(b["duplicates"] for b in built),
                  "unparseable_codes": sum(c["unparseable"] for c in codes),
                  "chapters_diag_1": built[-1]["chapters"].get("diag_1_chapter", {}) if built else {},
                  "set_aside": table_preview(aside)},
        check_results=check_results(SILVER_CHECKS, [
            GateResult("duplicate_rate", not duplicates,
                       {"over_limit": md(markdown_table(duplicates)), "limit": readmission.max_duplicate_rate}),
            GateResult("unparseable_code_rate", not bad_codes,
                       {"over_limit": md(markdown_table(bad_codes)), "limit": readmission.max_unknown_code_rate}),
        ]),
    )


def _gold_asset(name: str, build, description: str, count_key: str):
    @dg.asset(key=key(name), **HISTORY, deps=[key("encounters_silver")], kinds={"parquet", "duckdb"}, description=description)
    def gold(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        months, layout, timing = _months(context), warehouse.layout(), {}
        with timed(timing):
            built = [build(layout, m, warehouse.threads) for m in months]
        aside = _warn_set_aside(context, name, built)
        rows = sum(b["rows"] for b in built)
        with_data = [b["month"] for b in built if not b.get("set_aside")]
        last = with_data and current(layout.table(JOB, name, with_data[-1]))
        return dg.MaterializeResult(metadata={
            **stage_metadata(_range_label(months), rows, rows, timing["duration_s"]), "months": len(months),
            count_key: sum(b[count_key] for b in built), "set_aside": table_preview(aside),
            "preview": table_preview(pl.read_parquet(str(last / "*.parquet")).head(5).to_dicts() if last else [])})

    return gold


feature_store = _gold_asset("feature_store", build_feature_store,
                            "Gold features per encounter (keys, numeric and categorical features; NULL = unknown); no label.",
                            "rows")
label_store = _gold_asset("label_store", build_label_store,
                          "Gold labels: readmitted_30d = 1 when the encounter was followed by a readmission within 30 days.",
                          "positives")

PREREQUISITE_CHECKS = check_specs(key("training_prerequisites"), {
    "model_config_valid": "The model config file parses and passes its schema (windows ordered and disjoint, known "
                          "algorithms, a positive search budget).",
    "gold_data_present": "The feature store and the label store cover every month of the train, test and OOT windows.",
    "enough_partitions": "At least the configured number of monthly partitions hold both features and labels.",
    "no_month_set_aside": "No month of the gold tables was set aside. A warning: a month whose delivery was refused "
                          "(an unreadable file, a missing column, too many bad values) is listed with the reason, and "
                          "training goes ahead while the other preconditions hold without it.",
}, None, warn_only=("no_month_set_aside",))


@dg.asset(key=key("training_prerequisites"), **UNPARTITIONED, deps=[key("feature_store"), key("label_store")],
          check_specs=PREREQUISITE_CHECKS, kinds={"python"},
          description="The seed's ShortCircuitOperators as blocking checks: when one fails, training does not run, and the "
                      "check says which precondition failed and why.")
def training_prerequisites(context: dg.AssetExecutionContext, warehouse: Warehouse,
                           readmission: ReadmissionConfig) -> dg.MaterializeResult:
    from platform_assets.readmission.logic.prerequisites import (
        available_months,
        check_prerequisites,
        failure_summary,
        set_aside_months,
    )

    layout = warehouse.layout()
    features, labels = available_months(layout, "feature_store"), available_months(layout, "label_store")
    aside = {**set_aside_months(layout, "feature_store"), **set_aside_months(layout, "label_store")}
    gates, _config = check_prerequisites(readmission.config_file, features, labels, aside)
    summary = failure_summary(gates)
    if summary:
        context.log.error(summary)
    warning = next(g for g in gates if g.name == "no_month_set_aside")
    if not warning.passed:
        context.log.warning(warning.metadata["reason"])
    return dg.MaterializeResult(
        metadata={"config_file": readmission.config_file, "feature_months": len(features), "label_months": len(labels),
                  "verdict": summary or "all preconditions hold",
                  "set_aside": [{"month": m, "reason": why} for m, why in sorted(aside.items())]},
        check_results=check_results(PREREQUISITE_CHECKS, gates))


MODEL_CHECKS = check_specs(key("readmission_models"), {
    "equal_opportunity": "A champion stands and it passed the equal-opportunity gate: no recall gap across race, gender "
                         "and age brackets on the test window is confidently above the configured limit (an inconclusive "
                         "gap fails too when fairness.inconclusive is block). Algorithms that fail are registered for "
                         "inspection and never promoted.",
    "equal_opportunity_conclusive": "The champion's recall gaps are each confidently within or beyond the limit. A warning: "
                                    "when an interval straddles the limit it names the group, its positives and about how "
                                    "many positives would settle it.",
    "champion_calibrated": "On the OOT window, which chose nothing, the champion's observed readmission rate in every decile "
                           "of its probabilities is within quality.calibration_tolerance of the mean predicted (Wilson "
                           "intervals held jointly over the deciles). A warning: the job publishes the champion's "
                           "probabilities as they are; an open decile fails it when quality.inconclusive is block.",
    "champion_near_best_auc": "The champion's OOT AUC is within quality.max_auc_gap of the best AUC achievable from the "
                              "synthetic world's true probabilities on the same rows (paired DeLong interval).",
    "not_worse_than_champion": "The champion's OOT AUC is not below the champion it replaced, scored on the same rows, by "
                               "more than quality.champion_tolerance (paired DeLong interval); passes when nothing was "
                               "replaced.",
    "gates_conclusive": "Every judged figure of the champion on OOT was settled: a warning naming each open figure, its "
                        "interval, its rows and about how many rows would settle it.",
}, None, warn_only=("equal_opportunity_conclusive", "champion_calibrated", "champion_near_best_auc", "not_worse_than_champion",
               "gates_conclusive"))


@dg.asset(key=key("readmission_models"), **COMMON, deps=[key("training_prerequisites")], check_specs=MODEL_CHECKS,
          automation_condition=dg.AutomationCondition.on_missing() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
          kinds={"xgboost", "scikitlearn"},
          description="LogReg, RandomForest and XGBoost tuned on the train window (folds grouped by patient), evaluated on "
                      "test and OOT, registered (UBJ / skops with SHA-256, the seed's metadata.json); champion per algorithm "
                      "on test AUC, overall the simplest not significantly below the best test AUC, never OOT. Trained once on its own; retrain on a config change by "
                      "materializing it.")
def readmission_models(context: dg.AssetExecutionContext, warehouse: Warehouse,
                       readmission: ReadmissionConfig) -> dg.MaterializeResult:
    from platform_assets.readmission.logic.evaluation import open_groups_text
    from platform_assets.readmission.logic.model_config import load_model_config
    from platform_assets.readmission.logic.model_run import inconclusive_warnings, run_label, train_and_register
    from platform_assets.readmission.logic.quality import quality_gates, quality_metadata

    config = load_model_config(readmission.config_file)
    run = train_and_register(warehouse.layout(), warehouse.registry(), config, run_label(config), readmission.nthread,
                             log=context.log.info)
    overall = run.champions["overall"]
    champion_algorithm = overall.split("/")[0] if overall else None
    metrics = run.evaluation["metrics"]
    champion_oot = next((m for m in metrics if m["algorithm"] == champion_algorithm and m["window"] == "oot"), None)
    gates = run.evaluation["gates"]
    fairness = gates[champion_algorithm] if overall else None
    for line in inconclusive_warnings(run, config):
        context.log.warning(line)
    return dg.MaterializeResult(
        metadata={"duration_s": run.seconds, "rows_in": run.samples["train"], "samples": run.samples,
                  "search_rows": run.training["search_rows"],
                  "versions": run.versions, "champions": run.champions, "champion": overall,
                  "metrics": table_preview(metrics), "best_achievable_auc": run.evaluation["best_achievable_auc"],
                  "tuning": {a: {k: v for k, v in t.items() if k != "best_params"} for a, t in run.training["algorithms"].items()},
                  "leakage_proof": run.training["leakage"], "fairness": table_preview(
                      [{"algorithm": a, "verdict": g.metadata["verdict"], "passed": g.passed, "gap": g.metadata["gap"],
                        "low": g.metadata["interval"][0], "high": g.metadata["interval"][1],
                        "pair": g.metadata["pair"],
                        "reason": g.metadata["reason"]} for a, g in gates.items()]),
                  **quality_metadata(run.quality),
                  "fairness_open_groups": open_groups_text(fairness.metadata["open_groups"]) if fairness else "",
                  "model_card": md(run.card), "report_dir": run.report_dir,
                  "calibration_plot": md(png_markdown({"calibration by decile, every algorithm": current(
                      warehouse.layout().table(JOB, "model_reports", run.label)) / "calibration.png"}))},
        check_results=check_results(MODEL_CHECKS, [
            GateResult("equal_opportunity", bool(overall) and fairness.passed,
                       {"champion": overall or "none: no algorithm passed its gates",
                        "verdict": fairness.metadata["verdict"] if fairness else "none",
                        "failed": [a for a, g in gates.items() if not g.passed]}),
            GateResult("equal_opportunity_conclusive", fairness is None or fairness.metadata["verdict"] != "inconclusive",
                       {"champion": overall or "none", "reason": fairness.metadata["reason"] if fairness else "no champion",
                        "open_groups": markdown_table(fairness.metadata["open_groups"] if fairness else [])},
                       blocking=False),
            *quality_gates(run.quality, config.quality.inconclusive, champion_oot and champion_oot["auc_roc"]),
        ]))


@dg.asset(key=key("model_comparison"), **UNPARTITIONED, deps=[key("readmission_models")], pool=CATALOG_POOL,
          kinds={"parquet"},
          description="Every registered version's test and OOT figures side by side (catalog view "
                      "readmission_model_comparison), best test AUC first.")
def model_comparison(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    from platform_assets.readmission.logic.comparison import COMPARISON_TABLE, write_comparison

    layout = warehouse.layout()
    written = write_comparison(layout, warehouse.registry(), "all_versions")
    warehouse.publish_views({"readmission_model_comparison": current(layout.table(JOB, COMPARISON_TABLE, "all_versions"))})
    return dg.MaterializeResult(metadata={"dagster/row_count": written["versions"], "models": written["models"],
                                          "comparison": table_preview(written["rows"][:20]),
                                          "dagster/table_name": "readmission_model_comparison"})


SCORE_COLUMNS = {"encounter_id": "BIGINT", "patient_nbr": "BIGINT", "readmission_probability": "DOUBLE",
                 "risk_band": "VARCHAR", "model_version": "VARCHAR", "scored_at": "VARCHAR"}
SCORE_DESCRIPTIONS = {
    "encounter_id": "Encounter id; one row per encounter of the month.",
    "patient_nbr": "Patient id (a patient has several encounters).",
    "readmission_probability": "The champion's probability of a readmission within 30 days, in [0, 1].",
    "risk_band": "low, medium, high or very_high: the probability against model_config.yaml's risk_bands.",
    "model_version": "Registry entry of the overall champion that scored the row.",
    "scored_at": "When the month was scored, UTC, ISO 8601 text.",
}
SCORE_CHECKS = check_specs(key("readmission_scores"), {
    "one_score_per_encounter": "As many scores as feature rows, no encounter_id twice.",
    "probabilities_valid": "Every readmission_probability in [0, 1] and every risk_band known.",
}, monthly_partitions)


def view_name(month: str) -> str:
    return f"readmission_scores_{month.replace('-', '_')}"


@dg.asset(key=key("readmission_scores"), **MONTHLY, pool=CATALOG_POOL, check_specs=SCORE_CHECKS,
          deps=[key("feature_store"), key("readmission_models")], kinds={"parquet", "xgboost"},
          freshness_policy=freshness(days=35),
          metadata={"dagster/column_schema": column_schema(SCORE_COLUMNS, SCORE_DESCRIPTIONS, unique=("encounter_id",))},
          description="The month's encounters scored by the overall champion with a risk band; exposed as the catalog "
                      "view `readmission_scores_<YYYY_MM>` once its checks pass.")
def readmission_scores(context: dg.AssetExecutionContext, warehouse: Warehouse,
                       readmission: ReadmissionConfig) -> dg.MaterializeResult:
    from platform_assets.readmission.logic.model_config import load_model_config
    from platform_assets.readmission.logic.scoring import score_month

    month, layout = month_label(parse_month(context.partition_key)), warehouse.layout()
    config = load_model_config(readmission.config_file)
    scored = score_month(layout, warehouse.registry(), month, config,
                         datetime.now(timezone.utc).isoformat(timespec="seconds"), nthread=readmission.nthread)
    written = current(layout.table(JOB, "scores", month))
    scores = pl.read_parquet(str(written / "*.parquet"))
    features = scored["rows"]
    bands = {b.name for b in config.risk_bands}
    gates = [
        GateResult("one_score_per_encounter", len(scores) == features and scores["encounter_id"].n_unique() == len(scores),
                   {"scores": len(scores), "feature_rows": features, "unique_ids": scores["encounter_id"].n_unique()}),
        GateResult("probabilities_valid", bool(scores["readmission_probability"].is_between(0, 1).all())
                   and set(scores["risk_band"].unique().to_list()) <= bands,
                   {"min": scores["readmission_probability"].min(), "max": scores["readmission_probability"].max()}),
    ]
    view = view_name(month)
    if all_passed(gates):
        pin_published(written)
        warehouse.publish_views({view: written})
    else:
        context.log.error(f"readmission_scores failed its checks: catalog view {view} left as it was")
    return dg.MaterializeResult(
        metadata={**stage_metadata(month, features, len(scores), scored["scoring_seconds"]),
                  "rows_per_s": scored["rows_per_second"], "model_version": scored["model_version"],
                  "risk_bands": table_preview(scored["bands"]), "catalog_view": view, "dagster/table_name": view,
                  "bytes_written": dir_bytes(written)},
        check_results=check_results(SCORE_CHECKS, gates))


@dg.asset(key=key("readmission_monitoring"), **MONTHLY, deps=[key("readmission_scores"), key("label_store")],
          kinds={"parquet"},
          description="The scored month against training: PSI of every feature and of the score; AUC and Brier once the "
                      "month's labels are in the label store.")
def readmission_monitoring(context: dg.AssetExecutionContext, warehouse: Warehouse,
                           readmission: ReadmissionConfig) -> dg.MaterializeResult:
    from platform_assets.readmission.logic.artifacts import drift_reference_of, load_registered
    from platform_assets.readmission.logic.monitoring import monitor_month, write_monitoring
    from platform_core.registry import ModelRef

    month, layout, registry = month_label(parse_month(context.partition_key)), warehouse.layout(), warehouse.registry()
    scores = pl.read_parquet(str(current(layout.table(JOB, "scores", month)) / "*.parquet"))
    ref = ModelRef.parse(JOB, scores["model_version"][0])
    features = pl.read_parquet(str(current(layout.table(JOB, "feature_store", month)) / "*.parquet"))
    labels_dir = layout.table(JOB, "label_store", month)
    labels = pl.read_parquet(str(current(labels_dir) / "*.parquet")) if labels_dir.exists() else None
    result = monitor_month(drift_reference_of(registry, ref), load_registered(registry, ref, readmission.nthread),
                           features, scores, labels)
    write_monitoring(layout, month, result)
    return dg.MaterializeResult(metadata={
        "partition": month, "dagster/row_count": result["rows"], "model_version": str(ref), "score_psi": result["score_psi"],
        "max_feature_psi": result["max_feature_psi"], "features_drifting": result["features_drifting"],
        "performance": result["performance"], "drift": table_preview(sorted(result["drift"], key=lambda r: -r["psi"])[:15])})


assets = [landing_encounters, encounters_silver, feature_store, label_store, training_prerequisites, readmission_models,
          model_comparison, readmission_scores, readmission_monitoring]
