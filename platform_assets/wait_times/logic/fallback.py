"""The fallback forecast: what an entity without a model is forecast with, so that a critical
entity too new to train is neither a hole in the forecasts nor a blocked park.

For each open 15-minute slot of the next days: the park's mean posted wait at that weekday and
hour over the last `PROFILE_DAYS` days, scaled to the entity's own level (its mean posted wait
over those days against the park's) when it has observations there (`fallback_entity_profile`);
an entity with none gets the park's profile as is (`fallback_park_profile`). With a few dozen
observations an entity's own weekday x hour cells would be mostly empty or one reading each; the
park's shape at the entity's level uses all it has. sql/wait_times/fallback_forecasts.sql says
how a missing cell is filled. Every row says its source in `forecast_source`.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from platform_assets.wait_times.logic.tables import JOB, SCHEMAS, current_files
from platform_core import duck
from platform_core.storage import DataLayout

PROFILE_DAYS = 28
SOURCES = ("fallback_entity_profile", "fallback_park_profile")


def fallback_forecasts(layout: DataLayout, day: date, entities: pl.DataFrame, slots: pl.DataFrame,
                       profile_days: int = PROFILE_DAYS) -> pl.DataFrame:
    """Forecast rows (the forecasts schema, model_version NULL) of `entities` (entity_id, park) for
    `slots` (park, date, slot_start, slot_middle), from posted_aggregates of the `profile_days`
    days through `day`. An entity with no basis at all (its park and itself without observations
    in the window) gets no rows."""
    aggregates = current_files(layout, "posted_aggregates", first=day - timedelta(days=profile_days - 1), last=day)
    if entities.is_empty() or not aggregates:
        return pl.DataFrame(schema=SCHEMAS["forecasts"])
    con = duck.connect()
    try:
        duck.view(con, "aggregates", aggregates)
        con.register("wanted", entities.select("entity_id", "park"))
        con.register("slots", slots.select("park", pl.col("date").alias("forecast_date"), "slot_start", "slot_middle"))
        frame = con.sql(duck.load_sql(JOB, "fallback_forecasts")).pl()
    finally:
        con.close()
    return (frame.filter(pl.col("predicted_wait").is_not_null())
            .with_columns(pl.col("predicted_wait").clip(lower_bound=0.0), pl.lit(None, pl.String).alias("model_version"))
            .select(list(SCHEMAS["forecasts"])).cast(SCHEMAS["forecasts"]))
