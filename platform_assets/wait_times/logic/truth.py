"""Forecast and WTI figures against the synthetic world's true expected waits (None for real
deliveries, which carry no world)."""

from __future__ import annotations

from datetime import date

import polars as pl

from platform_assets.wait_times.logic.delivery import load_world
from platform_assets.wait_times.logic.forecasting import with_truth
from platform_assets.wait_times.logic.tables import JOB
from platform_assets.wait_times.logic.wti import compute_wti, wti_error
from platform_core.storage import DataLayout


def world_or_none(layout: DataLayout):
    return load_world(layout) if (layout.truth(JOB, "world") / "world.json").exists() else None


def wti_against_truth(layout: DataLayout, day: date, forecasts: pl.DataFrame, index: pl.DataFrame) -> dict | None:
    """The WTI from the forecasts against the WTI the true expected waits give, same weights."""
    world = world_or_none(layout)
    if world is None or forecasts.is_empty():
        return None
    return wti_error(index, compute_wti(layout, day, with_truth(forecasts, world)))
