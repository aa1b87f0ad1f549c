"""Forecasts: every entity with a current model, the next `horizon_days` days after the partition
day, by 15-minute slot within its park's published hours. Features are taken at the middle of
each slot, from the schedule published with the day's delivery (hours and events a week ahead),
so a forecast uses only what is known when it is made."""

from __future__ import annotations

import time
from datetime import date, timedelta

import numpy as np
import polars as pl

from platform_assets.wait_times.logic.features import feature_matrix
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


def make_forecasts(layout: DataLayout, day: date, registry: ModelRegistry, horizon_days: int = 3) -> tuple[pl.DataFrame, dict]:
    """Forecast and write the day's `forecasts` partition; figures: rows, entities forecast, those without a model."""
    started = time.perf_counter()
    entities = read_day(layout, "dim_entity", day).select("entity_id", "park", "tier")
    slots = forecast_slots(read_day(layout, "park_schedule", day), day, horizon_days)
    by_park = slots.partition_by("park", as_dict=True)
    frames, without_model = [], []
    for entity_id, park in entities.select("entity_id", "park").iter_rows():
        ref = champion_ref(registry, entity_id)
        if ref is None:
            without_model.append(entity_id)
            continue
        rows = by_park[(park,)]
        import xgboost as xgb

        predicted = load_booster(registry, ref).predict(xgb.DMatrix(feature_matrix(rows, at=MIDDLE), nthread=1))
        frames.append(rows.select(pl.lit(entity_id, pl.Int32).alias("entity_id"), "park", pl.col("date").alias("forecast_date"),
                                  "slot_start", pl.Series("predicted_wait", np.maximum(predicted, 0.0).astype(np.float64)),
                                  pl.lit(ref.version).alias("model_version")))
    forecasts = (pl.concat(frames) if frames else pl.DataFrame(schema=SCHEMAS["forecasts"])).cast(SCHEMAS["forecasts"])
    with atomic_dir(partition_dir(layout, "forecasts", day)) as tmp:
        forecasts.write_parquet(tmp / "part-00000.parquet")
    tiers = entities.filter(pl.col("entity_id").is_in(without_model))["tier"].value_counts().sort("tier")
    return forecasts, {"rows": len(forecasts), "entities": forecasts["entity_id"].n_unique(), "horizon_days": horizon_days,
                       "without_model": len(without_model), "without_model_by_tier": dict(tiers.iter_rows()),
                       "seconds": round(time.perf_counter() - started, 2)}


def error_against_truth(forecasts: pl.DataFrame, world) -> dict:
    """Forecast error against the synthetic world's true expected wait at each slot's middle,
    overall and per forecast day (synthetic world only)."""
    if forecasts.is_empty():
        return {"rows": 0}
    middle = forecasts["slot_start"] + SLOT / 2
    truth = world.true_expected_wait(forecasts["entity_id"].to_numpy(), middle)
    overall = regression_metrics(truth, forecasts["predicted_wait"].to_numpy())
    frame = forecasts.select("forecast_date", "predicted_wait").with_columns(pl.Series("truth", truth))
    per_day = {str(d): round(float((g["predicted_wait"] - g["truth"]).abs().mean()), 3)
               for (d,), g in frame.partition_by("forecast_date", as_dict=True).items()}
    return {**overall, "mean_truth": round(float(truth.mean()), 3), "mae_by_day": dict(sorted(per_day.items()))}


def with_truth(forecasts: pl.DataFrame, world) -> pl.DataFrame:
    """The forecasts with the true expected wait in place of the prediction (for the WTI's counterpart)."""
    truth = world.true_expected_wait(forecasts["entity_id"].to_numpy(), forecasts["slot_start"] + SLOT / 2)
    return forecasts.with_columns(pl.Series("predicted_wait", truth))



def coverage(layout: DataLayout, day: date, forecasts: pl.DataFrame, horizon_days: int) -> dict:
    """Entities with a model whose forecasts miss open slots of the next days (against the schedule)."""
    slots = forecast_slots(read_day(layout, "park_schedule", day), day, horizon_days).group_by("park").len("expected")
    got = forecasts.group_by("entity_id", "park").len("slots").join(slots, on="park", how="left")
    short = got.filter(pl.col("slots") < pl.col("expected"))
    return {"entities": len(got), "missing_slots": int((short["expected"] - short["slots"]).sum()),
            "entities_short": short["entity_id"].to_list()[:50]}
