"""The input contract (logic/contract.py) on real deliveries: every delivered file is read or the
delivery refused naming it; unreadable files and ids that fit no 32-bit integer fail as one
paragraph naming file, column and value; out-of-range, NaN and infinite waits are quarantined per
column and reason, and the quarantine-rate gate refuses a day past its limit naming column, count
and rate. The last test runs a bad delivery through `make run`'s path (Dagster, run.py)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from platform_assets.definitions import build_definitions
from platform_assets.run import JobRunFailed, run_partition
from platform_assets.wait_times import definitions as wait_times
from platform_assets.wait_times.config import WaitTimesConfig
from platform_assets.wait_times.logic.delivery import JOB
from platform_assets.wait_times.logic.etl import process_day, quarantine_gate
from platform_assets.wait_times.logic.tables import current_files
from platform_assets.wait_times.logic.world import World, WorldParams
from platform_assets.wait_times.partitions import HISTORY_START
from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, DataLayout, write_once_dir
from resources import Warehouse
from tests.wait_times.conftest import SMALL, small_days

DAY = small_days()[-1]


def deliver(layout: DataLayout, day: date, world: World, files: dict[str, pl.DataFrame | bytes]) -> Path:
    """A delivery of `day`: the world's tables, with `files` ({file name: frame or raw bytes}) in
    place of its observations."""
    tables = world.day(day)
    target = layout.landing(JOB, day.isoformat())
    with write_once_dir(target, last=SUCCESS_MARKER) as tmp:
        for name in ("entities", "park_hours", "events"):
            tables[name].write_parquet(tmp / f"{name}.parquet")
        for name, content in files.items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                content.write_parquet(tmp / name)
        (tmp / SUCCESS_MARKER).write_text("")
    return target


def fact_rows(layout: DataLayout, day: date) -> int:
    return len(pl.read_parquet([str(f) for f in current_files(layout, "fact_observations", day, day)]))


def test_every_observations_file_of_a_delivery_is_read(tmp_path):
    world = World(SMALL)
    observations = world.day(DAY)["observations"]
    half = len(observations) // 2
    whole, split = DataLayout.at(tmp_path / "whole"), DataLayout.at(tmp_path / "split")
    deliver(whole, DAY, world, {"observations.parquet": observations})
    deliver(split, DAY, world, {"observations.parquet": observations[:half],
                                "observations part 2.parquet": observations[half:]})
    one, two = process_day(whole, DAY), process_day(split, DAY)
    assert two["files"] == one["files"] + 1 == 5
    assert two["rows_in"] == one["rows_in"] == len(observations)
    assert two["rows_out"] == one["rows_out"] == fact_rows(split, DAY) == fact_rows(whole, DAY)
    assert two["quarantine"] == one["quarantine"]


@pytest.mark.parametrize("name", ["weather.parquet", "notes.txt", "Observations.parquet"])
def test_a_file_no_table_reads_refuses_the_delivery_naming_it(tmp_path, name):
    layout, world = DataLayout.at(tmp_path), World(SMALL)
    deliver(layout, DAY, world, {"observations.parquet": world.day(DAY)["observations"], name: b"anything"})
    with pytest.raises(ContractError, match=rf"{name}: the delivery holds a file that no table .* observations\*\.parquet") as err:
        process_day(layout, DAY)
    assert "\n" not in str(err.value)
    assert not layout.table_area(JOB, "fact_observations").exists()  # nothing written from a refused delivery


def test_an_unreadable_parquet_file_is_named(tmp_path):
    layout, world = DataLayout.at(tmp_path), World(SMALL)
    deliver(layout, DAY, world, {"observations.parquet": world.day(DAY)["observations"],
                                 "observations-late.parquet": b"not parquet at all"})
    with pytest.raises(ContractError, match=r"observations-late\.parquet: not a readable Parquet file \(.*magic bytes") as err:
        process_day(layout, DAY)
    assert "deliver the day again" in str(err.value) and "\n" not in str(err.value)


def test_an_entity_id_beyond_32_bits_in_the_entity_list_is_one_paragraph(tmp_path):
    layout, world = DataLayout.at(tmp_path), World(SMALL)
    tables = world.day(DAY)
    entities = tables["entities"].with_columns(
        pl.when(pl.col("entity_id") == tables["entities"]["entity_id"][0]).then(2**40).otherwise(pl.col("entity_id"))
        .alias("entity_id"))
    target = layout.landing(JOB, DAY.isoformat())
    with write_once_dir(target, last=SUCCESS_MARKER) as tmp:
        tables["observations"].write_parquet(tmp / "observations.parquet")
        entities.write_parquet(tmp / "entities.parquet")
        for name in ("park_hours", "events"):
            tables[name].write_parquet(tmp / f"{name}.parquet")
        (tmp / SUCCESS_MARKER).write_text("")
    with pytest.raises(ContractError, match=r"entities\.parquet: column entity_id value '1099511627776': entity ids must be "
                                            r"whole numbers from 1 to 2,147,483,647.*deliver the day again"):
        process_day(layout, DAY)


def test_out_of_range_waits_and_ids_are_quarantined_per_column_and_reason(tmp_path):
    layout, world = DataLayout.at(tmp_path), World(SMALL)
    entity = world.day(DAY)["entities"]["entity_id"][0]
    at = datetime.combine(DAY, datetime.min.time()) + timedelta(hours=12)
    rows = [(entity, at, 30.0, None), (entity, at + timedelta(minutes=1), 35.0, 20.0),  # valid
            (entity, at + timedelta(minutes=2), -5.0, None),  # negative
            (entity, at + timedelta(minutes=3), 1e308, None),  # implausible
            (entity, at + timedelta(minutes=4), float("inf"), None),  # implausible
            (entity, at + timedelta(minutes=5), 2.0**40, None),  # implausible
            (entity, at + timedelta(minutes=6), float("nan"), None),  # not a number
            (entity, at + timedelta(minutes=7), 10.0, float("-inf")),  # actual_wait negative
            (2**40, at + timedelta(minutes=8), 10.0, None)]  # an id no entity list can hold: unknown
    obs = pl.DataFrame(rows, schema={"entity_id": pl.Int64, "observed_at": pl.Datetime("us"), "posted_wait": pl.Float64,
                                     "actual_wait": pl.Float64}, orient="row")
    deliver(layout, DAY, world, {"observations.parquet": obs})
    figures = process_day(layout, DAY)
    assert (figures["rows_in"], figures["rows_out"]) == (9, 2)
    assert figures["quarantine_by_column"] == {"posted_wait implausible_wait": 3, "posted_wait negative_wait": 1,
                                               "posted_wait not_a_number": 1, "actual_wait negative_wait": 1,
                                               "entity_id unknown_entity": 1}
    quarantine = pl.read_parquet([str(f) for f in current_files(layout, "observation_quarantine", DAY, DAY)])
    assert sorted(quarantine["posted_wait"].drop_nans().to_list()) == sorted([-5.0, 1e308, float("inf"), 2.0**40, 10.0, 10.0])
    assert 2**40 in quarantine["entity_id"].to_list()  # kept as delivered

    gate = quarantine_gate(figures, limit=0.01)
    assert not gate.passed and gate.metadata["days_over_limit"] == 1
    assert gate.metadata["refused"].startswith(f"1 day(s) over the limit of 1.00% ({DAY}); worst {DAY}: 77.78% of 9 observations")
    assert "posted_wait implausible_wait 3 (33.33%)" in gate.metadata["refused"]
    assert quarantine_gate(figures, limit=0.8).passed


def test_duplicates_are_counted_but_not_judged_by_the_quarantine_rate(tmp_path):
    """A day delivered twice over (every row in two files) loses nothing: the copies are set aside
    and counted, and the gate judges only the invalid rows' share, the same as the single delivery's."""
    world = World(SMALL)
    observations = world.day(DAY)["observations"]
    once, twice = DataLayout.at(tmp_path / "once"), DataLayout.at(tmp_path / "twice")
    deliver(once, DAY, world, {"observations.parquet": observations})
    deliver(twice, DAY, world, {"observations.parquet": observations, "observations copy.parquet": observations})
    single, double = process_day(once, DAY), process_day(twice, DAY)
    assert double["rows_out"] == single["rows_out"] == fact_rows(twice, DAY)
    assert double["quarantine"]["duplicate"] > single["rows_out"]  # half the day's rows are copies
    gate, single_gate = quarantine_gate(double, limit=0.01), quarantine_gate(single, limit=0.01)
    assert gate.passed and gate.metadata["duplicates_set_aside"] == double["quarantine"]["duplicate"]
    assert gate.metadata["rate"] == single_gate.metadata["rate"] > 0  # invalid rows doubled with the rows


def test_a_bad_delivery_stops_make_run_with_one_paragraph(tmp_path):
    """Through Dagster and run.py: the ETL's ContractError is the paragraph `make run` prints."""
    world = World(WorldParams(seed=3, entities=30, start=HISTORY_START, history_days=1))
    layout = DataLayout.at(tmp_path / "data")
    day = date.fromisoformat(HISTORY_START)
    deliver(layout, day, world, {"observations.parquet": world.day(day)["observations"], "observations 2.parquet": b"PAR1"})
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    defs = build_definitions(Warehouse(data_dir=str(layout.root)), {JOB: WaitTimesConfig()})
    with dg.DagsterInstance.from_config(str(home)) as instance, pytest.raises(JobRunFailed) as err:
        run_partition(wait_times.job, day.isoformat(), instance, defs, progress=lambda _line: None)
    message = str(err.value)
    assert f"ContractError: {layout.landing(JOB, day.isoformat()) / 'observations 2.parquet'}: not a readable Parquet file" in message
    assert "Traceback" not in message
