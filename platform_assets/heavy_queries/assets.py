"""heavy_queries as software-defined assets: thin wiring around `heavy_queries.logic`.

landing_query_log (external, daily) -> labelled_queries (daily; a range of days in one run)
-> query_window -> query_features -> heavy_query_model -> query_replay, each partitioned by the last
day of its 44-day window. Every gate is a blocking check; a model that fails one stays in the
registry for inspection and never becomes the champion. Each asset is a checkpoint: re-executing
a failed run from failure does not recompute the finished ones.
"""

from datetime import date

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
    png_markdown,
    stage_metadata,
    table_preview,
    timed,
)
from platform_assets.heavy_queries.config import HeavyQueriesConfig
from platform_assets.heavy_queries.keys import JOB, key
from platform_assets.heavy_queries.logic.scored_table import SCORED_DESCRIPTIONS, SCORED_SCHEMA
from platform_assets.heavy_queries.partitions import daily_partitions
from platform_core.reports import markdown_table
from platform_core.storage import pin_published
from resources import Warehouse

GROUP = JOB
DAILY = {"group_name": GROUP, "owners": OWNERS, "code_version": "1", "partitions_def": daily_partitions,
         "automation_condition": GUARDED_EAGER}

landing_query_log = dg.AssetSpec(
    key("landing_query_log"), group_name=GROUP, owners=OWNERS, partitions_def=daily_partitions, kinds={"parquet"},
    description="A delivered day of the query log in `landing/heavy_queries/<YYYY-MM-DD>/` (read-only to the platform); "
                "each delivery is recorded by heavy_queries_log_sensor with its version.")


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


@dg.asset(key=key("labelled_queries"), **DAILY, deps=[landing_query_log], backfill_policy=dg.BackfillPolicy.single_run(),
          kinds={"parquet", "duckdb"},
          description="A day's log labelled (heavy: CPU, peak memory or a resource error, thresholds from settings) and "
                      "filtered (non-curated sources, other query types, duplicates, invalid rows: set aside with reasons).")
def labelled_queries(context: dg.AssetExecutionContext, warehouse: Warehouse, heavy_queries: HeavyQueriesConfig) -> dg.MaterializeResult:
    from platform_assets.heavy_queries.logic.labels import build_labelled

    layout, config, timing = warehouse.layout(), heavy_queries.pipeline_config(), {}
    with timed(timing):
        figures = [build_labelled(layout.landing(JOB, day), layout.table(JOB, "labelled_queries", day), config,
                                  date.fromisoformat(day)) for day in context.partition_keys]
    rows_in, kept = sum(f["rows_in"] for f in figures), sum(f["rows_kept"] for f in figures)
    set_aside: dict[str, int] = {}
    for f in figures:
        for reason, n in f["set_aside"].items():
            set_aside[reason] = set_aside.get(reason, 0) + n
    heavy = sum(f["heavy"] for f in figures)
    keys = context.partition_keys
    return dg.MaterializeResult(metadata={
        **stage_metadata(keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}", rows_in, kept, timing["duration_s"]),
        "days": len(keys), "set_aside": set_aside, "heavy": heavy, "heavy_share": round(heavy / max(kept, 1), 4),
        "thresholds": {"cpu_ms": heavy_queries.heavy_cpu_ms, "peak_memory_bytes": heavy_queries.heavy_peak_memory_bytes}})


WINDOW_CHECKS = check_specs(key("query_window"), {
    "zero_cost_categories": "Each rule-routed SQL category (SHOW, DESCRIBE, EXPLAIN, SET, USE, constants, catalog "
                            "lookups) is not shown heavy in 1% or more of its queries (Wilson interval); catalog lookups skip the model "
                            "only once shown light, statements reading no table unless shown heavy.",
    "usable_rows": "No day of the window lost more than max_defect_share (default 5%) of its delivered rows to defects (missing "
                   "values, created on another day, unusable costs, duplicate ids): a model is not trained on a broken log.",
}, daily_partitions)


@dg.asset(key=key("query_window"), **DAILY, deps=[key("labelled_queries")], check_specs=WINDOW_CHECKS, kinds={"parquet"},
          description="The 44 days ending here, deduplicated across days, split by day (30 train / 7 validation / 7 test), "
                      "with the boundary sample of the training days (5:1 small:heavy, closer to the boundary kept more).")
def query_window(context: dg.AssetExecutionContext, warehouse: Warehouse, heavy_queries: HeavyQueriesConfig) -> dg.MaterializeResult:
    from platform_assets.heavy_queries.logic.pipeline import build_window

    timing = {}
    with timed(timing):
        figures, (zero_cost, usable) = build_window(warehouse.layout(), _day(context), heavy_queries.pipeline_config())
    zero_cost.metadata["categories"] = md(markdown_table(zero_cost.metadata["categories"]))
    return dg.MaterializeResult(
        metadata={**stage_metadata(context.partition_key, figures["rows_in"], figures["rows_out"], timing["duration_s"]),
                  **{k: v for k, v in figures.items() if k not in ("rows_in", "rows_out")}},
        check_results=check_results(WINDOW_CHECKS, [zero_cost, usable]))


FEATURE_CHECKS = check_specs(key("query_features"), {
    "tfidf_training_days_only": "No TF-IDF term comes from validation or test days only.",
    "feature_parity": "The training featurizer and the single-query inference path give exactly the same features.",
}, daily_partitions)


@dg.asset(key=key("query_features"), **DAILY, deps=[key("query_window")], check_specs=FEATURE_CHECKS, kinds={"numpy"},
          description="The featurizer fitted on training days (78 base features, 17 historical with cold start, TF-IDF) "
                      "and the feature matrices of the sample, validation and test rows.")
def query_features(context: dg.AssetExecutionContext, warehouse: Warehouse, heavy_queries: HeavyQueriesConfig) -> dg.MaterializeResult:
    from platform_assets.heavy_queries.logic.pipeline import build_features

    timing = {}
    with timed(timing):
        figures, gates = build_features(warehouse.layout(), _day(context), heavy_queries.pipeline_config())
    return dg.MaterializeResult(
        metadata={**stage_metadata(context.partition_key, figures["rows_in"], figures["rows_in"], timing["duration_s"]),
                  **{k: v for k, v in figures.items() if k != "rows_in"}},
        check_results=check_results(FEATURE_CHECKS, gates))


MODEL_CHECKS = check_specs(key("heavy_query_model"), {
    "compliance_recall": "On the test days at the chosen threshold: recall >= 98% and FNR <= 2% (the seed's gate).",
    "onnx_parity": "ONNX probabilities within 1e-5 of XGBoost on every test query, identical decisions at the threshold.",
}, daily_partitions)


@dg.asset(key=key("heavy_query_model"), **DAILY, deps=[key("query_features")], check_specs=MODEL_CHECKS,
          kinds={"xgboost", "onnx"},
          description="XGBoost (5-fold stratified CV, early stopping) on the sample, threshold at FN:FP = 100:1 on the "
                      "validation days, compliance on the test days, ONNX export; registered always, champion only when "
                      "every gate passed.")
def heavy_query_model(context: dg.AssetExecutionContext, warehouse: Warehouse, heavy_queries: HeavyQueriesConfig) -> dg.MaterializeResult:
    from platform_assets.heavy_queries.logic.pipeline import train_and_register

    timing = {}
    with timed(timing):
        figures, gates = train_and_register(warehouse.layout(), warehouse.registry(), _day(context), heavy_queries.pipeline_config())
    if not figures["promoted"]:
        context.log.error(f"{figures['version']} failed {figures['failed_gates']}: kept in the registry, not promoted")
    return dg.MaterializeResult(
        metadata={"partition": context.partition_key, "duration_s": timing["duration_s"], **figures},
        check_results=check_results(MODEL_CHECKS, gates))


@dg.asset(key=key("query_replay"), **DAILY, deps=[key("heavy_query_model")], kinds={"parquet", "duckdb"},
          pool=CATALOG_POOL, freshness_policy=freshness(days=2), metadata={"dagster/column_schema": column_schema(
              {c: str(SCORED_SCHEMA.field(c).type).upper() for c in SCORED_SCHEMA.names}, SCORED_DESCRIPTIONS)},
          description="The champion replayed over the window's last 14 days: per-day recall, FNR, precision and routed "
                      "share, the overall figures judged on the days its model and threshold never saw (its test days "
                      "and later); PSI drift of features and score; report.md with plots. Catalog views "
                      "`heavy_queries_scored_<YYYY_MM_DD>` (every replayed query, scored: the columns below) and "
                      "`heavy_queries_replay_<YYYY_MM_DD>` (per day).")
def query_replay(context: dg.AssetExecutionContext, warehouse: Warehouse, heavy_queries: HeavyQueriesConfig) -> dg.MaterializeResult:
    from platform_assets.heavy_queries.logic.pipeline import replay_views, replay_window

    layout, timing = warehouse.layout(), {}
    with timed(timing):
        figures = replay_window(layout, warehouse.registry(), _day(context), heavy_queries.pipeline_config())
        views = replay_views(layout, _day(context))
        written = next(iter(views.values())).parent
        pin_published(written)  # kept before the views point at it
        warehouse.publish_views(views)
    daily = figures.pop("daily")
    return dg.MaterializeResult(metadata={
        **stage_metadata(context.partition_key, figures["scored_rows"], figures["scored_rows"], timing["duration_s"]),
        **figures, "per_day": table_preview(daily), "catalog_views": list(views),
        "plots": md(png_markdown({"recall and routed share per day": written / "recall_routed.png",
                                  "feature and score drift (PSI)": written / "psi.png"})),
        "dagster/table_name": next(iter(views))})


assets = [landing_query_log, labelled_queries, query_window, query_features, heavy_query_model, query_replay]
