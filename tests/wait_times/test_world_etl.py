"""The synthetic world and the ETL: quarantine and dedup counts, a range equals day-by-day,
deliveries are never written, bad input fails naming file and column."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from platform_assets.wait_times.logic.delivery import JOB, deliver_day, load_world
from platform_assets.wait_times.logic.etl import ETL_TABLES, process_day, process_days
from platform_assets.wait_times.logic.tables import SCHEMAS, current_files
from platform_assets.wait_times.logic.world import World
from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, DataLayout, write_once_dir
from tests.wait_times.conftest import SMALL, small_days


def _read(layout: DataLayout, table: str, day: date | None = None) -> pl.DataFrame:
    return pl.read_parquet([str(f) for f in current_files(layout, table, day, day)])


def test_world_is_deterministic_and_true_waits_follow_the_hours():
    world, day = World(SMALL), small_days()[3]
    a, b = world.day(day)["observations"], World(SMALL).day(day)["observations"]
    assert a.equals(b)
    valid = a.filter(pl.col("entity_id") <= SMALL.entities, pl.col("posted_wait") >= 0)
    truth = world.true_expected_wait(valid["entity_id"], valid["observed_at"])
    assert (truth > 0).all()
    assert abs(valid["posted_wait"].mean() - truth.mean()) < 0.05 * truth.mean()  # posted = truth + noise
    midnight = pl.Series([datetime.combine(day, datetime.min.time())] * 3)
    assert (world.true_expected_wait([1, 2, 3], midnight) == 0).all()  # closed at midnight


def test_rows_scale_the_entity_count_past_the_default_keeping_observations_per_entity():
    from platform_assets.wait_times.definitions import world_params

    assert [world_params(rows, 7).entities for rows in (300_000, 1_000, 20_000_000, 58_823_530)] == [30, 30, 1_700, 5_000]
    small, large = (World(world_params(rows, 7)) for rows in (20_000_000, 58_823_530))
    per_entity = [float(w.entity_table["rate_per_hour"].mean()) for w in (small, large)]
    assert abs(per_entity[1] / per_entity[0] - 1) < 0.1  # the same polling rates: 2.9x the rows, not denser entities


def _deliver(layout: DataLayout, day: date, observations: pl.DataFrame, world: World) -> None:
    tables = world.day(day)
    with write_once_dir(layout.landing(JOB, day.isoformat()), last=SUCCESS_MARKER) as tmp:
        observations.write_parquet(tmp / "observations.parquet")
        for name in ("entities", "park_hours", "events"):
            tables[name].write_parquet(tmp / f"{name}.parquet")
        (tmp / SUCCESS_MARKER).write_text("")


def test_quarantine_and_dedup_counts_are_exact(tmp_path):
    layout, world, day = DataLayout.at(tmp_path), World(SMALL), small_days()[-1]
    entity = world.day(day)["entities"]["entity_id"][0]
    at = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
    rows = [(entity, at, 30, None), (entity, at, 30, None), (entity, at, 35, None),  # two duplicates of the first
            (entity, at + timedelta(minutes=5), -5, None),  # negative
            (entity, at + timedelta(minutes=5), 25, 20),  # valid: same time as the negative row, not its duplicate
            (999_999, at, 10, None),  # unknown entity
            (entity, at + timedelta(days=1), 10, None),  # another day
            (entity, at + timedelta(minutes=9), 900, None)]  # implausible
    obs = pl.DataFrame(rows, schema={"entity_id": pl.Int64, "observed_at": pl.Datetime("us"), "posted_wait": pl.Int32,
                                     "actual_wait": pl.Int32}, orient="row")
    _deliver(layout, day, obs, world)
    figures = process_day(layout, day)
    assert figures["rows_in"] == 8 and figures["rows_out"] == 2
    assert figures["quarantine"] == {"duplicate": 2, "implausible_wait": 1, "negative_wait": 1, "outside_day": 1,
                                     "unknown_entity": 1}
    fact = _read(layout, "fact_observations", day).sort("observed_at")
    assert fact["posted_wait"].to_list() == [30, 25]  # the first of the duplicates is kept
    quarantine = _read(layout, "observation_quarantine", day)
    assert len(quarantine) == 6 and quarantine["source_row"].is_not_null().all()
    aggregates = _read(layout, "posted_aggregates", day)
    assert aggregates["observations"].to_list() == [2] and aggregates["mean_actual"].to_list() == [20.0]


def test_range_etl_equals_day_by_day_and_leaves_the_deliveries_untouched(tmp_path, delivered):
    def digest(layout):
        return {p.relative_to(layout.root): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((layout.root / "landing").rglob("*")) if p.is_file()}

    ranged, daily = DataLayout.at(tmp_path / "ranged"), DataLayout.at(tmp_path / "daily")
    for target in (ranged, daily):
        shutil.copytree(delivered.root, target.root)
    before = digest(ranged)
    days = small_days()[:4]
    figures = process_days(ranged, days)
    per_day = [process_day(daily, d) for d in days]
    assert figures["rows_out"] == sum(f["rows_out"] for f in per_day) > 0
    assert figures["quarantine"]["duplicate"] == sum(f["quarantine"].get("duplicate", 0) for f in per_day) > 0
    for table in ETL_TABLES:
        for day in days:
            a, b = _read(ranged, table, day), _read(daily, table, day)
            keys = [c for c in a.columns if c not in ("source_file",)]
            assert a.select(keys).sort(keys).equals(b.select(keys).sort(keys)), (table, day)
    fact = _read(ranged, "fact_observations")
    assert dict(fact.schema) == SCHEMAS["fact_observations"]
    assert fact.select("entity_id", "observed_at").is_duplicated().sum() == 0
    assert digest(ranged) == before


def test_a_delivery_missing_a_column_fails_naming_file_and_column(tmp_path):
    layout, world, day = DataLayout.at(tmp_path), World(SMALL), small_days()[0]
    _deliver(layout, day, world.day(day)["observations"].drop("posted_wait"), world)
    with pytest.raises(ContractError, match=r"observations\.parquet: missing required column posted_wait"):
        process_day(layout, day)
    with pytest.raises(ContractError, match="no complete delivery"):
        process_day(layout, day + timedelta(days=1))


def test_a_delivered_day_is_never_rewritten(delivered):
    world = load_world(delivered)
    with pytest.raises(FileExistsError):
        deliver_day(delivered, world, small_days()[0])
    assert np.isclose(world.params.target_rows, SMALL.target_rows)
