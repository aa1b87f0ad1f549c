"""Model features, one definition for training and forecasting: only what is known before the day
starts (the time slot, calendar, the park's published hours and events), never the same day's
observed waits, so a forecast made days ahead sees the same inputs the model was trained on."""

from __future__ import annotations

import numpy as np
import polars as pl

EVENT_FLAGS = ["holiday", "festival", "extended_hours", "party"]
FEATURES = ["slot", "day_of_week", "day_of_year", "minutes_since_open", "minutes_until_close", "opens_minute",
            "day_length", *EVENT_FLAGS]


def feature_matrix(frame: pl.DataFrame, at: str = "observed_at") -> np.ndarray:
    """float32 [rows, FEATURES] from a frame with `at`, opens_at, closes_at and the event flags."""
    minute = pl.col(at).dt.hour().cast(pl.Int32) * 60 + pl.col(at).dt.minute()
    opens = pl.col("opens_at").dt.hour().cast(pl.Int32) * 60 + pl.col("opens_at").dt.minute()
    return frame.select(
        (minute // 15).alias("slot"),
        pl.col(at).dt.weekday().alias("day_of_week"),
        pl.col(at).dt.ordinal_day().alias("day_of_year"),
        ((pl.col(at) - pl.col("opens_at")).dt.total_seconds() / 60).alias("minutes_since_open"),
        ((pl.col("closes_at") - pl.col(at)).dt.total_seconds() / 60).alias("minutes_until_close"),
        opens.alias("opens_minute"),
        ((pl.col("closes_at") - pl.col("opens_at")).dt.total_seconds() / 60).alias("day_length"),
        *[pl.col(flag).cast(pl.Int8) for flag in EVENT_FLAGS],
    ).cast(pl.Float32).to_numpy()
