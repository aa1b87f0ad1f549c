"""Forecasts: every entity of the day's list, the next `horizon_days` days after the partition
day, by 15-minute slot within its park's published hours. Features are taken at the middle of
each slot, from the schedule published with the day's delivery (hours and events a week ahead),
so a forecast uses only what is known when it is made. An entity with a current model is
forecast by it (`forecast_source` 'model'); one without (too new to train, or its training
failed) by the fallback of logic/fallback.py, whose rows say which profile they come from."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import polars as pl

from platform_assets.wait_times.logic.fallback import SOURCES, fallback_forecasts
from platform_assets.wait_times.logic.features import feature_matrix
from platform_assets.wait_times.logic.progress import progress_line
from platform_assets.wait_times.logic.tables import SCHEMAS, partition_dir, read_day
from platform_assets.wait_times.logic.versions import champion_ref, load_booster
from platform_core.metrics import regression_metrics
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout, atomic_dir

SLOT = timedelta(minutes=15)
MIDDLE = "slot_middle"


def forecast_slots(schedule: pl.DataFrame, day: date, horizon_days: int) -> pl.DataFrame:
    """Every 15-minute slot of each park's hours on the `horizon_days` days after `day`."""
    wanted = schedule.filter(pl.col("date").is_between(day + timedelta(days=1), day + timedelta(days=horizon_days)))
    missing = horizon_days * wanted["park"].n_unique() - len(wanted) if len(wanted) else horizon_days
    if missing:
        raise ValueError(f"the schedule published on {day} does not cover {horizon_days} days ahead for every park")
    return (wanted.with_columns(pl.datetime_ranges(pl.col("opens_at").dt.truncate("15m"), pl.col("closes_at") - SLOT,
                                                   interval="15m").alias("slot_start"))
            .explode("slot_start")
            .with_columns((pl.col("slot_start") + SLOT / 2).alias(MIDDLE)))


def make_forecasts(layout: DataLayout, day: date, registry: ModelRegistry, horizon_days: int = 3,
                   on_progress: Callable[[str], None] | None = None) -> tuple[pl.DataFrame, dict]:
    """Forecast and write the day's `forecasts` partition. Figures: rows, entities, entities by
    source, the fallback's entities (by tier, the first ids), entities left without a forecast.
    `on_progress` gets a progress line after each entity forecast by its model."""
    import xgboost as xgb

    started = time.perf_counter()
    entities = read_day(layout, "dim_entity", day).select("entity_id", "park", "tier")
    slots = forecast_slots(read_day(layout, "park_schedule", day), day, horizon_days)
    by_park = slots.partition_by("park", as_dict=True)
    refs = {e: champion_ref(registry, e) for e in entities["entity_id"].to_list()}
    with_model = entities.filter(pl.col("entity_id").is_in([e for e, r in refs.items() if r is not None]))
    frames = []
    for k, (entity_id, park) in enumerate(with_model.select("entity_id", "park").iter_rows(), 1):
        ref, rows = refs[entity_id], by_park[(park,)]
        predicted = load_booster(registry, ref).predict(xgb.DMatrix(feature_matrix(rows, at=MIDDLE), nthread=1))
        frames.append(rows.select(pl.lit(entity_id, pl.Int32).alias("entity_id"), "park", pl.col("date").alias("forecast_date"),
                                  "slot_start", pl.Series("predicted_wait", np.maximum(predicted, 0.0).astype(np.float64)),
                                  pl.lit(ref.version).alias("model_version"), pl.lit("model").alias("forecast_source")))
        if on_progress:
            on_progress(progress_line("forecasting by model", k, len(with_model), time.perf_counter() - started))
    without = entities.filter(~pl.col("entity_id").is_in(with_model["entity_id"].implode()))
    frames.append(fallback_forecasts(layout, day, without, slots))
    forecasts = pl.concat([f.cast(SCHEMAS["forecasts"]) for f in frames])
    with atomic_dir(partition_dir(layout, "forecasts", day)) as tmp:
        forecasts.write_parquet(tmp / "part-00000.parquet")
    sources = forecasts.group_by("entity_id").agg(pl.col("forecast_source").first())
    by_source = dict(sources.group_by("forecast_source").len().iter_rows())
    fallback = without.join(sources, on="entity_id").sort("tier", "entity_id")
    unforecast = without.filter(~pl.col("entity_id").is_in(sources["entity_id"].implode()))
    return forecasts, {"rows": len(forecasts), "entities": len(sources), "horizon_days": horizon_days,
                       "by_source": {s: int(by_source.get(s, 0)) for s in ("model", *SOURCES)},
                       "fallback": len(fallback), "fallback_by_tier": dict(fallback.group_by("tier").len().sort("tier").iter_rows()),
                       "fallback_critical": fallback.filter(pl.col("tier") == 1)["entity_id"].head(50).to_list(),
                       "without_forecast": len(unforecast), "without_forecast_entities": unforecast["entity_id"].head(50).to_list(),
                       "seconds": round(time.perf_counter() - started, 2)}


def error_against_truth(forecasts: pl.DataFrame, world) -> dict:
    """Forecast error against the synthetic world's true expected wait at each slot's middle,
    overall and per forecast day (synthetic world only)."""
    if forecasts.is_empty():
        return {"rows": 0}
    middle = forecasts["slot_start"] + SLOT / 2
    truth = world.true_expected_wait(forecasts["entity_id"].to_numpy(), middle)
    overall = regression_metrics(truth, forecasts["predicted_wait"].to_numpy())
    frame = forecasts.select("forecast_date", "forecast_source", "predicted_wait").with_columns(pl.Series("truth", truth))
    error = (pl.col("predicted_wait") - pl.col("truth")).abs().mean()
    per_day = {str(d): round(float(m), 3) for d, m in frame.group_by("forecast_date").agg(error).iter_rows()}
    per_source = {s: {"mae": round(float(m), 3), "rows": int(n)}
                  for s, m, n in frame.group_by("forecast_source").agg(error, pl.len()).sort("forecast_source").iter_rows()}
    return {**overall, "mean_truth": round(float(truth.mean()), 3), "mae_by_day": dict(sorted(per_day.items())),
            "mae_by_source": per_source}


def with_truth(forecasts: pl.DataFrame, world) -> pl.DataFrame:
    """The forecasts with the true expected wait in place of the prediction (for the WTI's counterpart)."""
    truth = world.true_expected_wait(forecasts["entity_id"].to_numpy(), forecasts["slot_start"] + SLOT / 2)
    return forecasts.with_columns(pl.Series("predicted_wait", truth))


def coverage(layout: DataLayout, day: date, forecasts: pl.DataFrame, horizon_days: int) -> dict:
    """Entities whose forecasts (by model or fallback) miss open slots of the next days (against the schedule)."""
    slots = forecast_slots(read_day(layout, "park_schedule", day), day, horizon_days).group_by("park").len("expected")
    got = forecasts.group_by("entity_id", "park").len("slots").join(slots, on="park", how="left")
    short = got.filter(pl.col("slots") < pl.col("expected"))
    return {"entities": len(got), "missing_slots": int((short["expected"] - short["slots"]).sum()),
            "entities_short": short["entity_id"].to_list()[:50]}
