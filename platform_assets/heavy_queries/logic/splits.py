"""Time-based splits: train on the oldest days, choose the threshold on the next, gate on the newest.

Calendar days counted back from the newest day in the log: the last `test_days` are test, the
`validation_days` before them validation, the `train_days` before those train; anything older is
"history" (used only for historical features). A day without queries still counts, so a missing
delivery does not shift a split into another one's days.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl


def split_days(last_day: date, train_days: int = 30, validation_days: int = 7, test_days: int = 7) -> dict[str, tuple[date, date]]:
    """{split: (first day, last day)} ending at `last_day`."""
    test_start = last_day - timedelta(days=test_days - 1)
    validation_start = test_start - timedelta(days=validation_days)
    train_start = validation_start - timedelta(days=train_days)
    return {"train": (train_start, validation_start - timedelta(days=1)),
            "validation": (validation_start, test_start - timedelta(days=1)),
            "test": (test_start, last_day)}


def split_of(day: date, ranges: dict[str, tuple[date, date]]) -> str:
    """The split a day belongs to (`ranges` from split_days); "history" before them, "after" past them."""
    if day > ranges["test"][1]:
        return "after"
    return next((name for name in ("test", "validation", "train") if day >= ranges[name][0]), "history")


def assign_splits(frame: pl.DataFrame, train_days: int = 30, validation_days: int = 7, test_days: int = 7,
                  last_day: date | None = None) -> tuple[pl.DataFrame, dict]:
    """`frame` with a `split` column, and per split its days, rows and heavy rows."""
    last_day = last_day or frame["day"].max()
    ranges = split_days(last_day, train_days, validation_days, test_days)
    days = frame["day"].unique().to_list()
    out = frame.with_columns(pl.col("day").replace_strict({d: split_of(d, ranges) for d in days}, return_dtype=pl.String)
                             .alias("split"))
    if out.filter(pl.col("split") == "after").height:
        raise ValueError(f"rows after the last day {last_day} cannot be split")
    counts = {row["split"]: row for row in out.group_by("split").agg(
        pl.len().alias("rows"), pl.col("heavy").sum().alias("heavy"), pl.col("day").n_unique().alias("days_with_data")
    ).iter_rows(named=True)}
    figures = {name: {"first_day": ranges[name][0].isoformat(), "last_day": ranges[name][1].isoformat(),
                      "rows": int(counts.get(name, {}).get("rows", 0)), "heavy": int(counts.get(name, {}).get("heavy", 0)),
                      "days_with_data": int(counts.get(name, {}).get("days_with_data", 0))}
               for name in ("train", "validation", "test")}
    figures["history_rows"] = int(counts.get("history", {}).get("rows", 0))
    return out, figures
