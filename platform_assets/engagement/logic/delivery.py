"""A synthetic month delivered the way upstream delivers it: one customer table (labelled and
new customers together, `_SUCCESS` last) in the landing area, and the new customers' true
engagement apart, where only evaluation reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from platform_assets.engagement.logic.world import LABEL, generate_month
from platform_core.storage import SUCCESS_MARKER, Location, write_once_dir

NEW_CUSTOMER_SHARE = 0.2


@dataclass(frozen=True)
class Delivered:
    labelled: int
    to_score: int
    landing_dir: Location


def deliver_month(landing_dir: Location, truth_dir: Location, month: date, labelled_rows: int, seed: int,
                  new_rows: int | None = None) -> Delivered:
    new_rows = round(labelled_rows * NEW_CUSTOMER_SHARE) if new_rows is None else new_rows
    labelled, new, truth = generate_month(month, labelled_rows, new_rows, seed)
    customers = pl.concat([labelled, new.with_columns(pl.lit(None, pl.Float64).alias(LABEL))], how="vertical_relaxed")
    with write_once_dir(truth_dir, last="truth.parquet") as tmp:
        truth.write_parquet(tmp / "truth.parquet")
    with write_once_dir(landing_dir, last=SUCCESS_MARKER) as tmp:
        customers.write_parquet(tmp / "part-00000.parquet")
        (tmp / SUCCESS_MARKER).write_text(f"rows={len(customers)}\n")
    return Delivered(len(labelled), len(new), landing_dir)
