"""The wait_times tables: their schemas (what the dashboard and the wiring read) and where each
day's current version is. Every table is Parquet, one folder per daily partition, at
`DataLayout.table("wait_times", <table>, "YYYY-MM-DD")`."""

from __future__ import annotations

from datetime import date

import polars as pl

from platform_core.periods import parse_day
from platform_core.storage import DataLayout, Location, current

JOB = "wait_times"

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "fact_observations": {"entity_id": pl.Int32, "park": pl.String, "observed_at": pl.Datetime("us"),
                          "posted_wait": pl.Int32, "actual_wait": pl.Int32},
    "dim_entity": {"entity_id": pl.Int32, "entity_name": pl.String, "park": pl.String, "tier": pl.Int32,
                   "opened_on": pl.Date},
    "dim_park_hours": {"park": pl.String, "date": pl.Date, "opens_at": pl.Datetime("us"), "closes_at": pl.Datetime("us")},
    "dim_events": {"park": pl.String, "date": pl.Date, "event": pl.String},
    "park_schedule": {"park": pl.String, "date": pl.Date, "opens_at": pl.Datetime("us"), "closes_at": pl.Datetime("us"),
                      "holiday": pl.Boolean, "festival": pl.Boolean, "extended_hours": pl.Boolean, "party": pl.Boolean},
    "posted_aggregates": {"entity_id": pl.Int32, "park": pl.String, "date": pl.Date, "slot_start": pl.Datetime("us"),
                          "observations": pl.Int32, "mean_posted": pl.Float64, "max_posted": pl.Int32,
                          "mean_actual": pl.Float64},
    "observation_quarantine": {"reason": pl.String, "column_name": pl.String, "entity_id": pl.Int64,
                               "observed_at": pl.Datetime("us"), "posted_wait": pl.Float64, "actual_wait": pl.Float64,
                               "source_file": pl.String, "source_row": pl.Int64},
    "entity_index": {"entity_id": pl.Int32, "park": pl.String, "tier": pl.Int32, "observation_count": pl.Int64,
                     "latest_observation": pl.Datetime("us"), "count_at_last_model": pl.Int64,
                     "new_observations": pl.Int64, "last_trained": pl.Date, "current_version": pl.String,
                     "due": pl.Boolean, "due_reason": pl.String},
    "training_results": {"entity_id": pl.Int32, "park": pl.String, "tier": pl.Int32, "status": pl.String,
                         "reason": pl.String, "version": pl.String, "mae": pl.Float64, "rmse": pl.Float64,
                         "previous_mae": pl.Float64, "trees": pl.Int32, "seconds": pl.Float64, "train_rows": pl.Int32,
                         "valid_rows": pl.Int32, "promoted": pl.Boolean, "error": pl.String},
    "forecasts": {"entity_id": pl.Int32, "park": pl.String, "forecast_date": pl.Date, "slot_start": pl.Datetime("us"),
                  "predicted_wait": pl.Float64, "model_version": pl.String, "forecast_source": pl.String},
    "model_quality": {"entity_id": pl.Int32, "park": pl.String, "tier": pl.Int32, "observation_count": pl.Int64,
                      "model_version": pl.String, "trained_on": pl.Date, "mae": pl.Float64, "rmse": pl.Float64,
                      "trees": pl.Int32, "train_rows": pl.Int32, "valid_rows": pl.Int32, "forecast_source": pl.String,
                      "last_status": pl.String, "last_reason": pl.String},
    "wti": {"park": pl.String, "forecast_date": pl.Date, "wti": pl.Float64, "entities": pl.Int32},
}
DESCRIPTIONS: dict[str, dict[str, str]] = {  # the published tables' columns (catalog views)
    "forecasts": {
        "entity_id": "Entity (ride, show) id.",
        "park": "Park code (MK, EP, ...).",
        "forecast_date": "Day forecast, after the run's day.",
        "slot_start": "Start of the 15-minute slot within the park's published opening hours.",
        "predicted_wait": "Predicted posted wait in minutes.",
        "model_version": "Registry entry of the entity's model; NULL for the fallback.",
        "forecast_source": "model; for an entity without one fallback_entity_profile (its own recent profile) or "
                           "fallback_park_profile (its park's).",
    },
    "wti": {
        "park": "Park code (MK, EP, ...).",
        "forecast_date": "Day forecast.",
        "wti": "Wait time index: the park's predicted posted waits, weighted by each entity's mean posted wait of the "
               "last 28 days.",
        "entities": "Entities the index is made of.",
    },
}
ETL_TABLES = ["fact_observations", "dim_entity", "dim_park_hours", "dim_events", "park_schedule", "posted_aggregates",
              "observation_quarantine"]


def partition_dir(layout: DataLayout, table: str, day: date) -> Location:
    return layout.table(JOB, table, day.isoformat())


def written_days(layout: DataLayout, table: str) -> list[date]:
    """Days with a current version of `table`, oldest first."""
    area = layout.table_area(JOB, table)
    days = []
    for folder in sorted(area.iterdir()) if area.exists() else []:
        try:
            day = parse_day(folder.name)
        except ValueError:
            continue
        if (folder / "_CURRENT").exists():
            days.append(day)
    return days


def current_files(layout: DataLayout, table: str, first: date | None = None, last: date | None = None) -> list[Location]:
    """The Parquet files of `table`'s current versions for the days in [first, last] (all when open)."""
    return [current(partition_dir(layout, table, d)) / "*.parquet" for d in written_days(layout, table)
            if (first is None or d >= first) and (last is None or d <= last)]


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


def read_day(layout: DataLayout, table: str, day: date) -> pl.DataFrame:
    files = current_files(layout, table, first=day, last=day)
    if not files:
        raise FileNotFoundError(f"no {table} partition for {day}: run the step that writes it for that day first")
    return pl.read_parquet([str(f) for f in files])
