"""The wait time index (WTI) of each park and forecast day.

WTI = sum_e w_e * mean_slot(predicted_e) / sum_e w_e over the park's forecast entities, in
minutes: the park's expected posted wait on that day, where each entity weighs its mean posted
wait over the 28 days before the forecast was made, so a busy headliner moves the index more
than a walk-on carousel (an entity without recent observations weighs its own mean prediction).
The same formula over the true expected waits gives its counterpart against truth.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import polars as pl

from platform_assets.wait_times.logic.tables import JOB, SCHEMAS, current_files, partition_dir
from platform_core import duck
from platform_core.storage import DataLayout, atomic_dir

WEIGHT_DAYS = 28


def compute_wti(layout: DataLayout, day: date, forecasts: pl.DataFrame, weight_days: int = WEIGHT_DAYS) -> pl.DataFrame:
    con = duck.connect()
    try:
        con.register("forecasts", forecasts)
        aggregates = current_files(layout, "posted_aggregates", first=day - timedelta(days=weight_days - 1), last=day)
        if aggregates:
            duck.view(con, "aggregates", aggregates)
        else:
            con.execute("CREATE VIEW aggregates AS SELECT 0::INTEGER AS entity_id, NULL::DATE AS date, "
                        "NULL::DOUBLE AS mean_posted WHERE false")
        frame = con.sql(duck.load_sql(JOB, "wti"), params={"day": day, "weight_days": weight_days}).pl()
    finally:
        con.close()
    return frame.cast(SCHEMAS["wti"])


def build_wti(layout: DataLayout, day: date, forecasts: pl.DataFrame, weight_days: int = WEIGHT_DAYS) -> tuple[pl.DataFrame, dict]:
    """Compute and write the day's `wti` partition."""
    started = time.perf_counter()
    wti = compute_wti(layout, day, forecasts, weight_days)
    with atomic_dir(partition_dir(layout, "wti", day)) as tmp:
        wti.write_parquet(tmp / "part-00000.parquet")
    return wti, {"rows": len(wti), "parks": wti["park"].n_unique(), "seconds": round(time.perf_counter() - started, 2)}


def wti_error(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """Mean absolute difference between the WTI and its counterpart from the true waits."""
    joined = predicted.join(truth, on=["park", "forecast_date"], suffix="_truth")
    diff = (joined["wti"] - joined["wti_truth"]).abs()
    return {"parks_days": len(joined), "mae": round(float(diff.mean()), 3) if len(joined) else None,
            "max_abs_error": round(float(diff.max()), 3) if len(joined) else None}
