"""A small fake of the wait_times tables, written where and how the pipeline writes them (one
atomic versioned folder per daily partition under a DataLayout), with known facts for the
dashboard's tests: one degraded entity, one whose MAE rises over its last three runs, one failed,
two stale, forecasts from two partitions for the same day, and a status.json mid-run. A first run
alone (`runs=1`) is the day of issue #22: a critical entity too new to train, then either the
blocking check failed and no forecast was written, or the run went through to the end;
`record_runs` records those runs on a real Dagster instance.

Waits follow `true_expected_wait`, the fake world's ground truth: posted waits overstate it by
15%, actual waits scatter around it, forecasts are within a few percent of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from platform_core.storage import DataLayout, atomic_dir, write_json

JOB = "wait_times"
DAYS = [date(2025, 8, 10) + timedelta(days=i) for i in range(6)]
LATEST = DAYS[-1]
PARKS = {"MK": (1, 9, 21), "EP": (1, 9, 21), "DL": (2, 8, 22), "UF": (3, 9, 21), "TDL": (4, 8, 22)}  # tier, opens, closes
ENTITIES = [
    (101, "Space Mountain", "MK"), (102, "Haunted Mansion", "MK"), (103, "Jungle Cruise", "MK"),
    (201, "Test Track", "EP"), (202, "Soarin'", "EP"), (301, "Matterhorn Bobsleds", "DL"),
    (302, "Radiator Springs Racers", "DL"), (401, "VelociCoaster", "UF"), (402, "Hagrid's Motorbike", "UF"),
    (501, "Pooh's Hunny Hunt", "TDL"), (502, "Big Thunder Mountain", "TDL"), (503, "Beauty and the Beast", "TDL"),
]
DEGRADED = 102  # status 'degraded' in the latest run
RISING = 201  # MAE 3.0 -> 3.4 -> 3.9 over its last three runs
RISING_MAE = [3.0, 3.4, 3.9]
FAILED = 401  # failed in the latest run
LAST_SEEN_EARLY = 502  # no observation after DAYS[-3]
NEVER_SEEN = 503  # opened on the latest day, never observed
STALE = {LAST_SEEN_EARLY, NEVER_SEEN}
STATUS = {
    "partition": (LATEST + timedelta(days=1)).isoformat(), "step": "training", "done": 45, "total": 200,
    "current_tier": 2, "started_at": "2025-08-16T06:00:00", "updated_at": "2025-08-16T06:03:00",
    "eta_seconds": 750.0, "trained": 40, "skipped": 3, "failed": 2,
}
STATUS_ETA = "2025-08-16 06:15:30"
TOO_NEW = 202  # in a first run: tier 1, first in the entity picker, a handful of observations, not trained
TOO_NEW_OBSERVATIONS = 6
FIRST_RUN = {  # status.json as a first run leaves it once its training is over; `step` is then "trained" or "done"
    "partition": LATEST.isoformat(), "done": len(ENTITIES) - 1, "total": len(ENTITIES) - 1, "current_tier": 4,
    "started_at": "2025-08-16T06:00:00+00:00", "updated_at": "2025-08-16T06:09:00+00:00", "elapsed_seconds": 420.0,
    "eta_seconds": None, "trained": len(ENTITIES) - 3, "skipped": 2, "failed": 0,
}
TRAINING_END = "2025-08-16 06:07:00 UTC"
OBSERVATION_MINUTES = 5
SLOT_MINUTES = 15


@dataclass(frozen=True)
class FakeWorld:
    layout: DataLayout

    def true_expected_wait(self, entity_ids: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        return true_expected_wait(entity_ids, timestamps)


def true_expected_wait(entity_ids, timestamps) -> np.ndarray:
    """Ground truth in minutes: an entity's base wait, an afternoon peak, busier weekends."""
    ids = np.asarray(entity_ids, dtype=np.float64)
    stamps = np.asarray(timestamps, dtype="datetime64[m]")
    minutes = (stamps - stamps.astype("datetime64[D]")).astype(np.int64)
    weekday = (stamps.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    base = 10.0 + (ids % 97) % 9 * 6.0
    peak = 1.0 + 0.8 * np.exp(-(((minutes / 60.0) - 14.0) / 3.0) ** 2)
    return base * peak * np.where(weekday >= 5, 1.3, 1.0)


def write_fixture(layout: DataLayout, seed: int = 7, status: dict = STATUS, runs: int = len(DAYS),
                  forecasts: bool = True) -> FakeWorld:
    """Write every wait_times table for DAYS, training results (and forecasts, unless not) for the
    last `runs` of them, and status.json (default: of a run in progress). With `runs=1`, TOO_NEW
    is new: too few observations to train, and forecast by the fallback."""
    rng = np.random.default_rng(seed)
    entities = pl.DataFrame(ENTITIES, schema={"entity_id": pl.Int32, "entity_name": pl.String, "park": pl.String}, orient="row")
    tiers = {park: tier for park, (tier, _, _) in PARKS.items()}
    entities = entities.with_columns(tier=pl.col("park").replace_strict(tiers, return_dtype=pl.Int32))
    too_new = {TOO_NEW} if runs == 1 else set()
    observations = _observations(rng, too_new)
    for index, day in enumerate(DAYS):
        _write(layout, "dim_entity", day, entities.with_columns(
            opened_on=pl.when(pl.col("entity_id") == NEVER_SEEN).then(pl.lit(LATEST)).otherwise(pl.lit(date(2020, 1, 1)))))
        _write(layout, "dim_park_hours", day, _park_hours(day))
        _write(layout, "dim_events", day, pl.DataFrame({"park": ["MK"], "date": [day], "event": ["fireworks"]}))
        today = observations.filter(pl.col("observed_at").dt.date() == day)
        _write(layout, "fact_observations", day, today)
        _write(layout, "posted_aggregates", day, _aggregates(today))
        seen = observations.filter(pl.col("observed_at").dt.date() <= day)
        _write(layout, "entity_index", day, _entity_index(entities, seen, day))
        run = index - (len(DAYS) - runs)
        if run < 0:
            continue
        _write(layout, "training_results", day, _training_results(entities, run, day, too_new))
        if not forecasts:
            continue
        made = _forecasts(entities, day, rng, too_new)
        _write(layout, "forecasts", day, made)
        _write(layout, "wti", day, made.group_by("park", "forecast_date").agg(
            wti=pl.col("predicted_wait").mean(), entities=pl.col("entity_id").n_unique().cast(pl.Int32)))
    write_json(layout.table_area(JOB, "training_status") / "status.json", status)
    return FakeWorld(layout)


def _write(layout: DataLayout, table: str, day: date, frame: pl.DataFrame) -> None:
    with atomic_dir(layout.table(JOB, table, day.isoformat())) as tmp:
        frame.write_parquet(tmp / "part-0.parquet")


def _park_hours(day: date) -> pl.DataFrame:
    return pl.DataFrame(
        [(park, day, datetime.combine(day, time(opens)), datetime.combine(day, time(closes)))
         for park, (_, opens, closes) in PARKS.items()],
        schema={"park": pl.String, "date": pl.Date, "opens_at": pl.Datetime("us"), "closes_at": pl.Datetime("us")}, orient="row",
    )


def _observations(rng: np.random.Generator, too_new: set[int]) -> pl.DataFrame:
    """An observation every 5 minutes of park hours; a third carry an actual wait. A `too_new`
    entity opened in the last half hour of the latest day."""
    rows = []
    for entity_id, _, park in ENTITIES:
        if entity_id == NEVER_SEEN:
            continue
        _, opens, closes = PARKS[park]
        days = DAYS[:-2] if entity_id == LAST_SEEN_EARLY else DAYS[-1:] if entity_id in too_new else DAYS
        for day in days:
            start = np.datetime64(datetime.combine(day, time(opens)), "m")
            stamps = start + np.arange(0, (closes - opens) * 60, OBSERVATION_MINUTES).astype("timedelta64[m]")
            stamps = stamps[-TOO_NEW_OBSERVATIONS:] if entity_id in too_new else stamps
            truth = true_expected_wait(np.full(len(stamps), entity_id), stamps)
            posted = np.round(truth * 1.15 + rng.normal(0, 2, len(stamps))).clip(0)
            actual = np.where(rng.random(len(stamps)) < 0.33, np.round(truth + rng.normal(0, 3, len(stamps))).clip(0), np.nan)
            rows.append(pl.DataFrame({"entity_id": entity_id, "park": park, "observed_at": stamps.astype("datetime64[us]"),
                                      "posted_wait": posted, "actual_wait": actual}))
    return pl.concat(rows).with_columns(
        pl.col("entity_id").cast(pl.Int32), pl.col("posted_wait").cast(pl.Int32),
        pl.col("actual_wait").fill_nan(None).cast(pl.Int32),
    )


def _aggregates(observations: pl.DataFrame) -> pl.DataFrame:
    con = duckdb.connect()
    con.register("obs", observations.to_arrow())
    return con.sql(
        "SELECT entity_id, park, CAST(observed_at AS DATE) AS date, time_bucket(INTERVAL 15 MINUTE, observed_at) AS slot_start, "
        "CAST(count(*) AS INTEGER) AS observations, avg(posted_wait) AS mean_posted, max(posted_wait) AS max_posted, "
        "avg(actual_wait) AS mean_actual FROM obs GROUP BY ALL ORDER BY entity_id, slot_start"
    ).pl()


def _entity_index(entities: pl.DataFrame, seen: pl.DataFrame, day: date) -> pl.DataFrame:
    counts = seen.group_by("entity_id").agg(observation_count=pl.len().cast(pl.Int64),
                                            latest_observation=pl.col("observed_at").max())
    return (
        entities.join(counts, on="entity_id", how="left")
        .with_columns(
            pl.col("observation_count").fill_null(0),
            count_at_last_model=pl.lit(None, pl.Int32), new_observations=pl.col("observation_count").fill_null(0).cast(pl.Int32),
            last_trained=pl.lit(day - timedelta(days=1)), current_version=pl.lit("v1"), due=pl.lit(True),
            due_reason=pl.lit("daily"),
        )
        .select("entity_id", "park", "tier", "observation_count", "latest_observation", "count_at_last_model", "new_observations",
                "last_trained", "current_version", "due", "due_reason")
    )


def _training_results(entities: pl.DataFrame, index: int, day: date, too_new: set[int]) -> pl.DataFrame:
    """Run `index` on `day`: the first trains everything (but the too new); later ones tier 1 only,
    with the known exceptions in the latest."""
    latest = day == LATEST and index > 0
    rows = []
    for entity_id, _, park, tier in entities.select("entity_id", "entity_name", "park", "tier").iter_rows():
        base = 2.0 + (entity_id % 5) * 0.3 + 0.1 * (index % 2)  # alternates: never rising three times
        status, reason, mae, previous, error = "trained", "daily", base, base - 0.1 * (index % 2), None
        if entity_id == RISING:
            mae = RISING_MAE[max(0, index - (len(DAYS) - 3))]
        if index > 0 and tier > 1:
            status, reason, mae, previous = "skipped", "fewer than 100 new observations", None, None
        if latest and entity_id == DEGRADED:
            status, reason, mae, previous = "degraded", "MAE worse than the current version", 5.0, 4.0
        if latest and entity_id == FAILED:
            status, reason, mae, previous, error = "failed", "training raised", None, None, "ValueError: no rows after filtering"
        if entity_id == NEVER_SEEN:
            status, reason, mae, previous = "skipped", "no observations", None, None
        if entity_id in too_new:
            status, reason, mae, previous = "skipped", "too_few_observations", None, None
        trained = status in ("trained", "degraded")
        rows.append({
            "entity_id": entity_id, "park": park, "tier": tier, "status": status, "reason": reason,
            "version": f"{entity_id}-{day}" if trained else None, "mae": mae,
            "rmse": None if mae is None else mae * 1.3, "previous_mae": previous if index > 0 else None,
            "trees": 40 + entity_id % 30 if trained else None, "seconds": 0.2 if trained else None,
            "train_rows": 800, "valid_rows": 200, "promoted": status == "trained", "error": error,
        })
    schema = {"entity_id": pl.Int32, "park": pl.String, "tier": pl.Int32, "status": pl.String, "reason": pl.String,
              "version": pl.String, "mae": pl.Float64, "rmse": pl.Float64, "previous_mae": pl.Float64, "trees": pl.Int32,
              "seconds": pl.Float64, "train_rows": pl.Int32, "valid_rows": pl.Int32, "promoted": pl.Boolean, "error": pl.String}
    return pl.DataFrame(rows, schema=schema)


def forecast_bias(made: date, day: date) -> float:
    """How far a forecast made on `made` for `day` is above the truth: the newer, the closer."""
    return 0.02 * (day - made).days


def _forecasts(entities: pl.DataFrame, made: date, rng: np.random.Generator, too_new: set[int]) -> pl.DataFrame:
    """Forecasts for the next two days, every 15-minute slot of park hours. In a first run (some
    `too_new`) they say their source, as forecasts do since the fallback: a too new entity is
    forecast by the fallback, one never seen not at all."""
    frames = []
    for entity_id, park in entities.select("entity_id", "park").iter_rows():
        if too_new and entity_id == NEVER_SEEN:
            continue
        _, opens, closes = PARKS[park]
        for ahead in (1, 2):
            day = made + timedelta(days=ahead)
            start = np.datetime64(datetime.combine(day, time(opens)), "m")
            slots = start + np.arange(0, (closes - opens) * 60, SLOT_MINUTES).astype("timedelta64[m]")
            predicted = true_expected_wait(np.full(len(slots), entity_id), slots) * (1 + forecast_bias(made, day))
            frames.append(pl.DataFrame({
                "entity_id": entity_id, "park": park, "forecast_date": day, "slot_start": slots.astype("datetime64[us]"),
                "predicted_wait": predicted + rng.normal(0, 0.5, len(slots)),
                "model_version": None if entity_id in too_new else f"{entity_id}-{made}",
                **({"forecast_source": "fallback_entity_profile" if entity_id in too_new else "model"} if too_new else {}),
            }, schema_overrides={"model_version": pl.String}))
    return pl.concat(frames).with_columns(pl.col("entity_id").cast(pl.Int32))


def record_runs(dagster_home: Path, partition: str, blocked: bool) -> None:
    """Record a day's runs on a real Dagster instance as `make run` does, one per asset: stand-ins
    for the job's assets under their own keys and checks (the tables are the fixture's). With
    `blocked`, `critical_entities_have_model` fails as it did on issue #22's day, which fails
    the entity_models run and stops the day there."""
    import dagster as dg

    days = dg.DailyPartitionsDefinition(start_date=DAYS[0].isoformat())
    check = dg.AssetCheckSpec("critical_entities_have_model", asset=dg.AssetKey(["wait_times", "entity_models"]), blocking=True)

    @dg.asset(key=["wait_times", "entity_index"], partitions_def=days)
    def entity_index():
        pass

    @dg.asset(key=["wait_times", "entity_models"], partitions_def=days, check_specs=[check])
    def entity_models():
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
            check_name=check.name, passed=not blocked,
            metadata={"critical_entities": 5, "without_model": [TOO_NEW] if blocked else []})])

    @dg.asset(key=["wait_times", "forecasts"], partitions_def=days)
    def forecasts():
        pass

    @dg.asset(key=["wait_times", "wti"], partitions_def=days)
    def wti():
        pass

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        for asset in (entity_index, entity_models, forecasts, wti):
            if not dg.materialize([asset], instance=instance, partition_key=partition, raise_on_error=False).success:
                break
    finally:
        instance.dispose()
