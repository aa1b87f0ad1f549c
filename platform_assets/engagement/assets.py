"""engagement as software-defined assets: thin wiring around `engagement.logic`.

landing_customers (external) -> customers -> engagement_model -> engagement_scores (monthly)
The model's gates (quality, fairness, proxies, calibration) are blocking checks: a model that
fails one is registered but not promoted, and nothing downstream runs in that run. The champion
gate is a warning that decides promotion only: a candidate that is not better leaves the month
to the current champion.
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
    stage_metadata,
    table_preview,
    timed,
)
from platform_assets.engagement.config import EngagementConfig
from platform_assets.engagement.keys import JOB, key
from platform_assets.engagement.logic.customers import CONTRACT, build_customers, delivery_gates
from platform_assets.engagement.logic.world import KEY, LABEL, PROTECTED
from platform_assets.engagement.partitions import monthly_partitions
from platform_core.gates import all_passed
from platform_core.periods import month_label, parse_month
from platform_core.registry import ModelRef, NoChampionError
from platform_core.reports import markdown_table
from platform_core.storage import atomic_dir, current, dir_bytes, pin_published
from platform_core.verdicts import INCONCLUSIVE, SHOWN, open_reason
from resources import Warehouse

GROUP = JOB
MODEL = "pipeline"
COMMON = {"group_name": GROUP, "owners": OWNERS, "code_version": "1", "automation_condition": GUARDED_EAGER}
SCORE_COLUMNS = {KEY: "BIGINT", "engagement_score": "DOUBLE", "confidence": "DOUBLE", "engagement_tier": "VARCHAR",
                 "churn_probability": "DOUBLE", "churn_risk_tier": "VARCHAR", "model_version": "VARCHAR", "scored_at": "VARCHAR"}
SCORE_DESCRIPTIONS = {
    KEY: "Customer id; one row per customer of the month without a known engagement.",
    "engagement_score": "The champion's predicted engagement in [0, 1], 3 decimals.",
    "confidence": "Probability that the customer's observed engagement falls in engagement_tier (calibrated on the test split).",
    "engagement_tier": "Low [0, 0.3), Medium [0.3, 0.5), High [0.5, 0.7), Very High [0.7, 1].",
    "churn_probability": "1 - engagement_score.",
    "churn_risk_tier": "Low, Medium, High or Critical: churn_probability at the engagement tiers' edges.",
    "model_version": "Registry entry of the champion that scored the row.",
    "scored_at": "When the month was scored, UTC, ISO 8601 text.",
}

landing_customers = dg.AssetSpec(
    key("landing_customers"), group_name=GROUP, owners=OWNERS, partitions_def=monthly_partitions, kinds={"parquet"},
    description="A delivered month of customers in `landing/engagement/<YYYY-MM>/` (read-only to the platform); "
                "each delivery is recorded by engagement_customers_sensor with its version.")


def view_name(month) -> str:
    return f"engagement_scores_{month_label(month).replace('-', '_')}"


CUSTOMER_CHECKS = check_specs(key("customers"), {
    "duplicate_rate": "Share of duplicate customer ids is below the configured limit.",
    "unknown_value_rate": "In every column, the share of values cast to NULL (unknown codes, non-numbers) is below the limit.",
    "quarantine_rate": "Share of customers set aside for a value outside its column's range (NaN, infinite, implausible, "
                       "a label outside [0, 1]) is below the limit; the worst column is named.",
    "enough_labelled_customers": "At least the configured number of customers with a known engagement to train on.",
}, monthly_partitions)


@dg.asset(key=key("customers"), **COMMON, partitions_def=monthly_partitions, deps=[landing_customers],
          check_specs=CUSTOMER_CHECKS, kinds={"parquet", "duckdb"},
          metadata={"dagster/column_schema": column_schema(CONTRACT.types(), unique=(KEY,))},
          description="The month's customers, validated against the contract, typed, one row per customer_id.")
def customers(context: dg.AssetExecutionContext, warehouse: Warehouse, engagement: EngagementConfig) -> dg.MaterializeResult:
    month, layout, timing = parse_month(context.partition_key), warehouse.layout(), {}
    target = layout.table(JOB, "customers", month_label(month))
    with timed(timing):
        stats = build_customers(layout.landing(JOB, month_label(month)), target, warehouse.threads)
    return dg.MaterializeResult(
        metadata={**stage_metadata(month_label(month), stats.rows_in, stats.rows_out, timing["duration_s"]),
                  "labelled": stats.labelled, "to_score": stats.to_score, "duplicates": stats.duplicates,
                  "set_aside": stats.set_aside, "quarantine": table_preview(stats.quarantine),
                  "extra_columns": stats.extra_columns, "bytes_written": dir_bytes(current(target))},
        check_results=check_results(CUSTOMER_CHECKS, delivery_gates(
            stats, engagement.max_duplicate_rate, engagement.max_unknown_value_rate, engagement.max_quarantine_rate,
            engagement.min_labelled_rows)),
    )


WARNINGS = ("fairness_conclusive", "gates_conclusive")  # say what a run could not tell; never block nor hold back promotion
MODEL_CHECKS = check_specs(key("engagement_model"), {
    "holdout_quality": "Test R² and RMSE of the engagement score meet the configured floors, judged by their intervals; "
                       "an inconclusive verdict fails only when quality_inconclusive is block.",
    **{f"demographic_parity_{a}": f"Selection rates of the binarized score (> 0.5) by {a}: not confidently further apart "
                                  "than the limit (Newcombe intervals over every pair of groups, held jointly over every "
                                  "fairness comparison); an inconclusive verdict fails only when fairness_inconclusive is "
                                  "block." for a in PROTECTED},
    **{f"equalized_odds_{a}": f"True- and false-positive rates by {a}: not confidently further apart than the limit "
                              "(intervals as for demographic parity)." for a in PROTECTED},
    "fairness_conclusive": "The test rows settle every fairness comparison (warning: names each open group, its rows and "
                           "about how many would resolve a gap of the limit's size).",
    "no_proxy_features": "No selected feature predicts a protected group above the configured strength (folded one-vs-rest "
                         "AUC), each judged by its interval held jointly over every feature and group: confidently above "
                         "fails; an interval across the limit fails only when fairness_inconclusive is block.",
    "confidence_calibrated": "Mean confidence matches the observed share of customers in their true tier, within the "
                             "tolerance (Wilson interval); an inconclusive verdict fails only when calibration_inconclusive "
                             "is block.",
    "not_worse_than_champion": "Test R² no lower than the current champion's on the same rows, beyond the tolerance (paired "
                               "interval of the per-row difference); an inconclusive verdict holds back promotion only when "
                               "champion_inconclusive is block.",
    "gates_conclusive": "The test rows settle every judged figure of holdout_quality, confidence_calibrated and "
                        "not_worse_than_champion (warning: names each open figure, its interval, its rows and about how "
                        "many would settle it).",
}, monthly_partitions, warn_only=("not_worse_than_champion", *WARNINGS))


@dg.asset(key=key("engagement_model"), **COMMON, partitions_def=monthly_partitions, deps=[key("customers")],
          check_specs=MODEL_CHECKS, kinds={"xgboost", "scikitlearn"},
          description="SelectKBest + StandardScaler + tuned XGBoost as one pipeline (JSON + UBJ, SHA-256) in the registry; "
                      "promoted to champion only when every gate passes.")
def engagement_model(context: dg.AssetExecutionContext, warehouse: Warehouse, engagement: EngagementConfig) -> dg.MaterializeResult:
    from platform_assets.engagement.logic.gates import (
        calibration_gate, champion_gate, fairness_conclusive_gate, fairness_gates, gates_conclusive, judged_figures, proxy_gate,
        quality_gate)
    from platform_assets.engagement.logic.model import EngagementPipeline, train
    from platform_assets.engagement.logic.scoring import feature_matrix

    month, layout, timing = parse_month(context.partition_key), warehouse.layout(), {}
    registry = warehouse.registry()
    table = pl.read_parquet(str(current(layout.table(JOB, "customers", month_label(month))) / "customers.parquet"))
    labelled = table.filter(pl.col(LABEL).is_not_null()).sort(KEY)  # the folds depend on row order; the file's is not fixed
    with timed(timing):
        trained = train(labelled, k=engagement.selected_features, seed=engagement.seed, search=engagement.search,
                        nthread=engagement.nthread, folds=engagement.folds, log=context.log.info,
                        search_max_rows=engagement.search_max_rows)
    test = trained.test
    champion_pred, champion_version = None, None
    try:
        ref = registry.champion(JOB)[MODEL]
        champion = EngagementPipeline.from_files({n: registry.load_file(ref, n) for n in ("pipeline.json", "model.ubj")})
        test_rows = pl.DataFrame({KEY: test.ids}).join(labelled, on=KEY, how="left", maintain_order="left")  # test.y's order
        champion_pred, champion_version = champion.predict(feature_matrix(test_rows, champion.features)), str(ref)
    except NoChampionError:
        pass
    fairness_results = fairness_gates(test.pred, test.y, test.groups, engagement.max_dp_difference, engagement.max_eo_difference,
                                      min_group_rows=engagement.min_group_rows, inconclusive=engagement.fairness_inconclusive)
    judged_gates = [
        quality_gate(test.y, test.pred, engagement.min_r2, engagement.max_rmse, engagement.quality_inconclusive),
        calibration_gate(test.y, test.pred, test.confidence, engagement.calibration_tolerance,
                         inconclusive=engagement.calibration_inconclusive),
        champion_gate(test.y, test.pred, champion_pred, engagement.champion_tolerance, engagement.champion_inconclusive),
    ]
    gates = [
        *judged_gates, *fairness_results, fairness_conclusive_gate(fairness_results), gates_conclusive(judged_gates),
        proxy_gate(test.features, test.groups, engagement.max_proxy_auc, min_group_rows=engagement.min_group_rows,
                   inconclusive=engagement.fairness_inconclusive),
    ]
    judged = judged_figures(judged_gates)
    for line in (open_reason(label, j) for label, j in judged.items() if j["verdict"] == INCONCLUSIVE):
        context.log.warning(line)
    fairness = [{"gate": g.name, "difference": g.metadata["difference"], "limit": g.metadata["max_difference"],
                 "interval": g.metadata.get("interval") or {rate: g.metadata[rate]["interval"]
                                                            for rate in ("true_positive_rate", "false_positive_rate")},
                 "verdict": SHOWN[g.metadata["verdict"]]} for g in fairness_results]
    search = {k: v for k, v in trained.search.items() if k != "seconds"}  # timings would make every version new
    test_metrics = {k: trained.metrics[k] for k in ("r2", "rmse", "mae")}
    metadata = {"metrics": test_metrics, "search": search, "selected_features": trained.selected,
                "feature_importance": trained.feature_importance, "training_rows": len(labelled),
                "gates": [{"name": g.name, "passed": g.passed} for g in gates], "fairness": fairness}
    ref = registry.register(JOB, MODEL, month_label(month), trained.pipeline.to_files(), metadata)
    passed = all(g.passed for g in gates if g.name not in WARNINGS)  # a warning never holds back promotion
    promoted = passed and registry.promote(JOB, {MODEL: ref}, reason=f"trained on {month_label(month)}, all model gates passed")
    if not promoted:
        reason = "a model gate failed" if not passed else "this version was rolled back by a person"
        context.log.error(f"{reason}: the new pipeline stays in the registry but is not promoted")
    return dg.MaterializeResult(
        metadata={"partition": month_label(month), "duration_s": timing["duration_s"], "rows_in": len(labelled),
                  "version": str(ref), "promoted": promoted, "champion_before": champion_version,
                  "champion_r2_before": judged_gates[2].metadata["champion_r2"], **test_metrics,
                  "search": trained.search,
                  "fairness": fairness, "judged": judged, "fairness_table": md(markdown_table(fairness)),
                  "feature_importance": table_preview(trained.feature_importance)},
        check_results=check_results(MODEL_CHECKS, gates),
    )


SCORE_CHECKS = check_specs(key("engagement_scores"), {
    "row_count_matches_input": "One score per customer without a known engagement.",
    "customer_id_unique": "No customer_id appears twice.",
    "scores_in_unit_range": "engagement_score, churn_probability and confidence in [0, 1], never NULL.",
    "tiers_complete": "Every row has a known engagement_tier and churn_risk_tier.",
}, monthly_partitions)


@dg.asset(key=key("engagement_scores"), **COMMON, partitions_def=monthly_partitions, pool=CATALOG_POOL,
          deps=[key("engagement_model"), key("customers")], check_specs=SCORE_CHECKS, kinds={"parquet", "xgboost"},
          freshness_policy=freshness(days=35),
          metadata={"dagster/column_schema": column_schema(SCORE_COLUMNS, SCORE_DESCRIPTIONS, unique=(KEY,))},
          description="Every customer without a known engagement, scored by the champion pipeline with tiers, churn risk "
                      "and confidence; exposed in the catalog as `engagement_scores_<YYYY_MM>` once its checks pass.")
def engagement_scores(context: dg.AssetExecutionContext, warehouse: Warehouse, engagement: EngagementConfig) -> dg.MaterializeResult:
    from platform_assets.engagement.logic.evaluation import accuracy_against_truth
    from platform_assets.engagement.logic.gates import output_checks
    from platform_assets.engagement.logic.model import EngagementPipeline
    from platform_assets.engagement.logic.scoring import CHURN_RISK_TIERS, score_customers, tier_distribution

    month, layout, timing = parse_month(context.partition_key), warehouse.layout(), {}
    registry = warehouse.registry()
    ref: ModelRef = registry.champion(JOB)[MODEL]
    pipeline = EngagementPipeline.from_files({n: registry.load_file(ref, n) for n in ("pipeline.json", "model.ubj")})
    to_score = (pl.read_parquet(str(current(layout.table(JOB, "customers", month_label(month))) / "customers.parquet"))
                .filter(pl.col(LABEL).is_null()).sort(KEY))
    target = layout.table(JOB, "engagement_scores", month_label(month))
    with timed(timing):
        scores = score_customers(pipeline, to_score, str(ref), datetime.now(timezone.utc).isoformat(timespec="seconds"))
        with atomic_dir(target) as tmp:
            scores.write_parquet(tmp / "engagement_scores.parquet")
    written = current(target)
    gates = output_checks(scores, len(to_score))
    view = view_name(month)
    if all_passed(gates):
        pin_published(written)  # kept before the view points at it
        warehouse.publish_views({view: written})
    else:
        context.log.error(f"engagement_scores failed its checks: catalog view {view} left as it was")
    truth_dir = layout.truth(JOB, month_label(month))
    truth = accuracy_against_truth(scores, truth_dir) if truth_dir.exists() else None
    return dg.MaterializeResult(
        metadata={**stage_metadata(month_label(month), len(to_score), len(scores), timing["duration_s"]),
                  "model_version": str(ref), "catalog_view": view, "dagster/table_name": view,
                  "tiers": tier_distribution(scores), "churn_risk": tier_distribution(scores, "churn_risk_tier", CHURN_RISK_TIERS),
                  "against_truth": truth, "preview": table_preview(scores.head(5).to_dicts()),
                  "bytes_written": dir_bytes(written)},
        check_results=check_results(SCORE_CHECKS, gates),
    )


assets = [landing_customers, customers, engagement_model, engagement_scores]
