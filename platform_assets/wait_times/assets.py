"""wait_times as software-defined assets: thin wiring around `wait_times.logic`.

landing_observations (external, daily) -> observations_etl (one pass: fact_observations,
dimensions, posted_aggregates; a range of days in one run) -> entity_index -> entity_models (every
due entity in a process pool; run config: one entity, one tier or all) -> forecasts (by model, or
the fallback for entities without one) -> wti. forecasts and wti publish catalog views. The
~1,700 entities are rows of these tables and slots of the registry, not partitions (see
partitions.py). A rollback job returns one entity or all to their previous champions. Long steps
log a progress line at most every 10 s (logic/progress.py).
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
    stage_metadata,
    table_preview,
)
from platform_assets.wait_times.config import WaitTimesConfig
from platform_assets.wait_times.keys import JOB, key
from platform_assets.wait_times.logic.tables import DESCRIPTIONS, SCHEMAS
from platform_assets.wait_times.partitions import daily_partitions
from platform_core.gates import GateResult
from resources import Warehouse

GROUP = JOB
COMMON = {"group_name": GROUP, "owners": OWNERS, "code_version": "1", "automation_condition": GUARDED_EAGER}
DAILY = {**COMMON, "partitions_def": daily_partitions}

landing_observations = dg.AssetSpec(
    key("landing_observations"), group_name=GROUP, owners=OWNERS, partitions_def=daily_partitions, kinds={"parquet"},
    description="A delivered day of wait-time observations, park hours, events and the entity list in "
                "`landing/wait_times/<YYYY-MM-DD>/` (read-only to the platform).")


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _progress(context: dg.AssetExecutionContext):
    """A plain callable for the logic's progress lines: the run's log, at most a line every 10 s."""
    from platform_assets.wait_times.logic.progress import Throttle

    return Throttle(context.log.info)


def published_schema(table: str) -> dict:
    """The published table's `dagster/column_schema`, from its schema and column descriptions."""
    kinds = {column: str(kind).split("(")[0] for column, kind in SCHEMAS[table].items()}
    return {"dagster/column_schema": column_schema(kinds, DESCRIPTIONS[table])}


def view_name(table: str, day: date | None = None) -> str:
    """Catalog view names, as the other jobs name theirs: wait_times_forecasts_2025_08_31."""
    return f"{JOB}_{table}" + (f"_{day.isoformat().replace('-', '_')}" if day else "")


ETL_CHECKS = [
    *check_specs(key("fact_observations"), {
        "quarantine_rate": "No delivered day has more than the configured share of its observations invalid "
                           "(per column and reason: missing values, unknown entities, other days, waits that are "
                           "negative, above the plausible maximum, NaN or infinite); duplicates are set aside and "
                           "counted, not judged.",
    }, daily_partitions),
    *check_specs(key("fact_observations"), {
        "park_freshness": "Every park open on the day sent observations until within the configured hours of closing.",
    }, daily_partitions, blocking=False),
]


@dg.multi_asset(
    specs=[dg.AssetSpec(key("fact_observations"), deps=[landing_observations], kinds={"parquet", "duckdb"}, **COMMON,
               description="Validated, deduplicated observations: one row per entity and time."),
           dg.AssetSpec(key("dimensions"), deps=[landing_observations], kinds={"parquet"}, **COMMON,
               description="dim_entity (park, tier, opening), dim_park_hours, dim_events and the park schedule published "
                           "for the next days."),
           dg.AssetSpec(key("posted_aggregates"), deps=[landing_observations], kinds={"parquet"}, **COMMON,
               description="Per entity and 15-minute slot: observations, mean and max posted wait, mean actual wait.")],
    partitions_def=daily_partitions, check_specs=ETL_CHECKS, backfill_policy=dg.BackfillPolicy.single_run(),
    name="wait_times__observations_etl")
def observations_etl(context: dg.AssetExecutionContext, warehouse: Warehouse, wait_times: WaitTimesConfig):
    """One DuckDB pass over the days' deliveries writes all the day tables (a history of years in one
    run). The three assets share the pass's figures (observations in and kept, seconds); each adds
    its own row count."""
    from platform_assets.wait_times.logic.etl import process_days, quarantine_gate
    from platform_assets.wait_times.logic.freshness import freshness_gate, park_freshness

    days = [date.fromisoformat(k) for k in context.partition_keys]
    layout = warehouse.layout()
    figures = process_days(layout, days, warehouse.threads, on_progress=_progress(context))
    fresh = park_freshness(layout, days[-1], wait_times.stale_hours, warehouse.threads)
    label = days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"
    base = stage_metadata(label, figures["rows_in"], figures["rows_out"], figures["seconds"], days=len(days))
    tables = figures["tables"]
    etl = {k: v for k, v in figures.items() if k not in ("by_day", "problems")}
    yield dg.MaterializeResult(asset_key=key("fact_observations"), metadata={
        **base, "quarantine": figures["quarantine"], "quarantine_by_column": figures["quarantine_by_column"], "etl": etl,
        "park_freshness": table_preview([{**r, "closes_at": str(r["closes_at"]), "latest_observation": str(r["latest_observation"])}
                                         for r in fresh])})
    yield dg.MaterializeResult(asset_key=key("dimensions"), metadata={
        **base, "dagster/row_count": tables["dim_entity"], "tables": {t: n for t, n in tables.items() if t.startswith(("dim_", "park_"))}})
    yield dg.MaterializeResult(asset_key=key("posted_aggregates"), metadata={
        **base, "dagster/row_count": tables["posted_aggregates"]})
    for gate in (quarantine_gate(figures, wait_times.max_quarantine_rate), freshness_gate(fresh, wait_times.stale_hours)):
        yield from check_results([s for s in ETL_CHECKS if s.name == gate.name], [gate])


@dg.asset(key=key("entity_index"), **DAILY, deps=[key("fact_observations"), key("dimensions")], kinds={"parquet"},
          description="Per entity: observation count, latest observation, count at its last model, last trained, current "
                      "version, tier, and whether it is due (>= 100 new observations, tier age, or no model).")
def entity_index(context: dg.AssetExecutionContext, warehouse: Warehouse, wait_times: WaitTimesConfig) -> dg.MaterializeResult:
    from platform_assets.wait_times.logic.entity_index import build_entity_index

    figures = build_entity_index(warehouse.layout(), _day(context), warehouse.registry(), wait_times.rules(), warehouse.threads)
    return dg.MaterializeResult(metadata={
        **stage_metadata(context.partition_key, figures["entities"], figures["entities"], figures["seconds"]),
        "due": figures["due"], "due_reasons": figures["due_reasons"], "due_by_tier": figures["due_by_tier"],
        "entity_index": figures})


class RetrainSelection(dg.Config):
    """Which entities this run trains: `due` (the rules), `all`, one `entity` or one `tier`."""

    mode: str = "due"
    entity_id: int | None = None
    tier: int | None = None


MODEL_CHECKS = [
    *check_specs(key("entity_models"), {
        "critical_entities_have_model": "Every tier-1 (critical park) entity has a current model after the run, or is "
                                        "too new to train and served by the fallback forecast (reported by count and "
                                        "ids, not blocking); one whose training failed blocks.",
    }, daily_partitions),
    *check_specs(key("entity_models"), {
        "no_degraded_entities": "No retrained entity is worse than its current version on the same validation rows "
                                "(paired errors, interval beyond 2%, 95% held jointly over the run's entities); a degraded "
                                "one is flagged and not promoted.",
        "no_failed_entities": "No entity failed to train (a failed one keeps its model and is retried next run).",
    }, daily_partitions, blocking=False),
]


@dg.asset(key=key("entity_models"), **DAILY, deps=[key("entity_index"), key("fact_observations")], check_specs=MODEL_CHECKS,
          kinds={"xgboost"},
          description="One XGBoost per due entity (early stopping on the last 20% in time), trained in a process pool in "
                      "tier order, each promoted in its own registry slot unless degraded; the last N versions kept. An "
                      "entity with too few observations is skipped and forecast by the fallback.")
def entity_models(context: dg.AssetExecutionContext, config: RetrainSelection, warehouse: Warehouse,
                  wait_times: WaitTimesConfig) -> dg.MaterializeResult:
    from platform_assets.wait_times.logic.entity_index import Selection, read_entity_index, select_entities
    from platform_assets.wait_times.logic.gates import critical_model_gate
    from platform_assets.wait_times.logic.progress import training_line
    from platform_assets.wait_times.logic.training import train_entities
    from platform_assets.wait_times.logic.versions import champion_ref
    from platform_core.verdicts import per_comparison_level

    layout, day, registry = warehouse.layout(), _day(context), warehouse.registry()
    selection = Selection(config.mode, config.entity_id, config.tier)
    index = read_entity_index(layout, day)
    selected = select_entities(index, selection)
    context.log.info(f"training {len(selected):,} of {len(index):,} entities ({selection.describe()}); "
                     f"exporting their rows first")
    progress, settings = _progress(context), wait_times.train_settings()
    results, figures = train_entities(layout, day, index, selected, settings,
                                      on_progress=lambda snapshot: progress(training_line(snapshot),
                                                                            last=snapshot["done"] == snapshot["total"]),
                                      threads=warehouse.threads)
    critical = index.filter(index["tier"] == 1)["entity_id"].to_list()
    with_model = {e for e in critical if champion_ref(registry, e) is not None}
    degraded = results.filter(results["status"] == "degraded").select("entity_id", "mae", "previous_mae").to_dicts()
    return dg.MaterializeResult(
        metadata={**stage_metadata(context.partition_key, len(selected), figures["trained"] + figures["degraded"],
                                   figures["wall_seconds"]),
                  "selection": selection.describe(), "training": figures,
                  "by_tier": table_preview([{"tier": t, **c} for t, c in figures["by_tier"].items()])},
        check_results=check_results(MODEL_CHECKS, [
            critical_model_gate(index, results, with_model, settings),
            GateResult("no_degraded_entities", not degraded, {
                "degraded": len(degraded), "entities": degraded[:50], "compared": figures["compared"],
                "confidence": f"{settings.degrade_confidence:.0%} jointly over {len(selected):,} entities "
                              f"({per_comparison_level(settings.degrade_confidence, len(selected)):.5f} each)"},
                       blocking=False),
            GateResult("no_failed_entities", not figures["failed_entities"],
                       {"failed": len(figures["failed_entities"]), "entities": figures["failed_entities"][:10]},
                       blocking=False),
        ]))


FORECAST_CHECKS = check_specs(key("forecasts"), {
    "forecast_coverage": "Every forecast entity (by model or fallback) has a forecast for every open 15-minute slot of "
                         "the next days.",
}, daily_partitions)


@dg.asset(key=key("forecasts"), **DAILY, deps=[key("entity_models")], check_specs=FORECAST_CHECKS, kinds={"parquet"},
          pool=CATALOG_POOL, freshness_policy=freshness(days=2), metadata=published_schema("forecasts"),
          description="Predicted posted wait per entity and 15-minute slot for the next days (from the published park "
                      "schedule): by the entity's model, or the fallback profile for an entity without one "
                      "(`forecast_source`); error against the synthetic world's true expected wait. Catalog views "
                      "`wait_times_forecasts_<YYYY_MM_DD>` and `wait_times_model_quality` (per entity, latest).")
def forecasts(context: dg.AssetExecutionContext, warehouse: Warehouse, wait_times: WaitTimesConfig) -> dg.MaterializeResult:
    from platform_assets.wait_times.logic.forecasting import coverage, error_against_truth, make_forecasts
    from platform_assets.wait_times.logic.model_quality import build_model_quality
    from platform_assets.wait_times.logic.status import set_step
    from platform_assets.wait_times.logic.tables import partition_dir
    from platform_assets.wait_times.logic.truth import world_or_none

    layout, day, registry = warehouse.layout(), _day(context), warehouse.registry()
    set_step(layout, "forecasting")
    frame, figures = make_forecasts(layout, day, registry, wait_times.horizon_days, on_progress=_progress(context))
    quality = build_model_quality(layout, day, registry, frame)
    world = world_or_none(layout)
    against_truth = error_against_truth(frame, world) if world else None
    gaps = coverage(layout, day, frame, wait_times.horizon_days)
    gate = GateResult("forecast_coverage", not gaps["missing_slots"], {**gaps, "without_forecast": figures["without_forecast"]})
    views = {view_name("forecasts", day): partition_dir(layout, "forecasts", day),
             view_name("model_quality"): partition_dir(layout, "model_quality", day)}
    if gate.passed:
        _publish(warehouse, views)
    else:
        context.log.error(f"forecasts failed forecast_coverage: catalog views {', '.join(views)} left as they were")
    return dg.MaterializeResult(
        metadata={**stage_metadata(context.partition_key, len(quality), figures["rows"], figures["seconds"]),
                  "forecasts": figures, "against_truth": against_truth, "catalog_views": list(views),
                  "dagster/table_name": view_name("forecasts", day),
                  "model_quality": table_preview(quality.head(20).to_dicts())},
        check_results=check_results(FORECAST_CHECKS, [gate]))


def _publish(warehouse: Warehouse, views: dict) -> None:
    """Pin each table's current version (kept while newer ones come and go) and point its view at it."""
    from platform_core.storage import current, pin_published

    versions = {name: current(folder) for name, folder in views.items()}
    for version in versions.values():
        pin_published(version)
    warehouse.publish_views(versions)


@dg.asset(key=key("wti"), **DAILY, deps=[key("forecasts")], kinds={"parquet"}, pool=CATALOG_POOL,
          freshness_policy=freshness(days=2), metadata=published_schema("wti"),
          description="The wait time index per park and forecast day: predicted posted wait over the park's entities, "
                      "weighted by their mean posted wait of the last 28 days. Catalog view `wait_times_wti_<YYYY_MM_DD>`.")
def wti(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    from platform_assets.wait_times.logic.status import set_step
    from platform_assets.wait_times.logic.tables import partition_dir, read_day
    from platform_assets.wait_times.logic.truth import wti_against_truth
    from platform_assets.wait_times.logic.wti import build_wti

    layout, day = warehouse.layout(), _day(context)
    frame = read_day(layout, "forecasts", day)
    index, figures = build_wti(layout, day, frame)
    view = view_name("wti", day)
    _publish(warehouse, {view: partition_dir(layout, "wti", day)})
    set_step(layout, "done")
    return dg.MaterializeResult(metadata={
        **stage_metadata(context.partition_key, len(frame), figures["rows"], figures["seconds"]),
        "wti": table_preview(index.to_dicts()[:30]), "against_truth": wti_against_truth(layout, day, frame, index),
        "catalog_views": [view], "dagster/table_name": view})


class RollbackRequest(dg.Config):
    """Return one entity (`entity_id`) or every entity (`all_entities`) to its previous champion."""

    entity_id: int | None = None
    all_entities: bool = False
    reason: str = "rolled back from the UI"


@dg.op(description="Roll back one entity's model or all of them to the previous champion (kept versions only).")
def rollback_entity_models(context: dg.OpExecutionContext, config: RollbackRequest, warehouse: Warehouse) -> dict:
    from platform_assets.wait_times.logic.versions import rollback_request

    outcome = rollback_request(warehouse.registry(), config.entity_id, config.all_entities, config.reason)
    context.log.info(f"rolled back {len(outcome['rolled_back'])} entities; not rolled back: {len(outcome['not_rolled_back'])}")
    return outcome


@dg.job(name=f"{JOB}_rollback", description="Roll back one entity (entity_id) or all (all_entities: true); the next "
                                            "forecasts use the restored models.")
def rollback_job():
    rollback_entity_models()


assets = [landing_observations, observations_etl, entity_index, entity_models, forecasts, wti]
