"""Forecasts cover every slot of the next days for every entity (by its model, else by the
fallback profile), use the champion (a rollback changes them), and are measured against truth;
the WTI is a weighted mean of them."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from platform_assets.wait_times.logic.delivery import load_world
from platform_assets.wait_times.logic.entity_index import compute_entity_index
from platform_assets.wait_times.logic.fallback import SOURCES
from platform_assets.wait_times.logic.forecasting import error_against_truth, make_forecasts, with_truth
from platform_assets.wait_times.logic.summary import format_summary
from platform_assets.wait_times.logic.tables import SCHEMAS
from platform_assets.wait_times.logic.training import EntityTask, TrainSettings, export_training_rows, train_entity
from platform_assets.wait_times.logic.versions import rollback_entity
from platform_assets.wait_times.logic.wti import build_wti, compute_wti, wti_error
from platform_core.registry import ModelRegistry
from tests.wait_times.conftest import small_days

DAY = small_days()[-1]


def test_forecasts_cover_the_next_days_use_the_champion_and_are_measured_against_truth(layout, tmp_path):
    registry, world = ModelRegistry(layout.models), load_world(layout)
    index = compute_entity_index(layout, DAY, registry)
    entities = index.sort("observation_count", descending=True)["entity_id"].head(3).to_list()
    files = export_training_rows(layout, DAY, entities, tmp_path / "rows")
    trained = {e: [train_entity(EntityTask(e, "", 1, 0, "test", files[e], str(layout.models), d.isoformat(), TrainSettings()))
                   for d in (DAY - timedelta(days=1), DAY)] for e in entities if e in files}
    assert trained and all(r["status"] == "trained" for rs in trained.values() for r in rs)

    forecasts, figures = make_forecasts(layout, DAY, registry, horizon_days=3)
    assert dict(forecasts.schema) == SCHEMAS["forecasts"]
    assert set(forecasts["entity_id"]) == set(index["entity_id"]) and figures["without_forecast"] == 0
    by_model = forecasts.filter(pl.col("forecast_source") == "model")
    assert set(by_model["entity_id"]) == set(trained) and by_model["model_version"].is_not_null().all()
    fallback = forecasts.filter(pl.col("forecast_source") != "model")  # every other entity: the fallback profile
    assert figures["fallback"] == len(index) - len(trained) == fallback["entity_id"].n_unique()
    assert set(fallback["forecast_source"]) <= set(SOURCES) and fallback["model_version"].is_null().all()
    assert sorted(set(forecasts["forecast_date"])) == [DAY + timedelta(days=k) for k in (1, 2, 3)]
    schedule = world.published_schedule(DAY)["park_hours"]
    one = forecasts.filter(pl.col("entity_id") == next(iter(trained)), pl.col("forecast_date") == DAY + timedelta(days=1))
    hours = schedule.filter(pl.col("park") == one["park"][0], pl.col("date") == DAY + timedelta(days=1))
    assert len(one) == (hours["closes_at"][0] - hours["opens_at"][0]).total_seconds() / 900  # every 15-minute slot
    assert one["slot_start"].min() == hours["opens_at"][0]

    error = error_against_truth(forecasts, world)
    assert error["rows"] == len(forecasts) and 0 < error["mae"] < 0.5 * error["mean_truth"]

    entity = next(iter(trained))
    assert set(forecasts.filter(pl.col("entity_id") == entity)["model_version"]) == {trained[entity][1]["version"]}
    rollback_entity(registry, entity, "test")
    again, _ = make_forecasts(layout, DAY, registry, horizon_days=3)
    assert set(again.filter(pl.col("entity_id") == entity)["model_version"]) == {trained[entity][0]["version"]}

    wti, wti_figures = build_wti(layout, DAY, forecasts)
    assert dict(wti.schema) == SCHEMAS["wti"] and wti_figures["rows"] == len(wti) > 0
    for park, day, value, n in wti.select("park", "forecast_date", "wti", "entities").iter_rows():
        per_entity = forecasts.filter(pl.col("park") == park, pl.col("forecast_date") == day).group_by("entity_id").agg(
            pl.col("predicted_wait").mean())["predicted_wait"]
        assert n == len(per_entity) and per_entity.min() - 1e-9 <= value <= per_entity.max() + 1e-9
    truth = compute_wti(layout, DAY, with_truth(forecasts, world))
    assert wti_error(wti, truth)["parks_days"] == len(wti)

    text = format_summary({"partition": DAY.isoformat(), "forecasts": figures, "forecast_error": error, "wall_seconds": 1.0})
    assert "against truth: MAE" in text and "Wall time" in text
