"""A critical entity too new to train is served by the fallback forecast and does not block the
run; one whose training failed does. Through Dagster on a small world where one tier-1 entity
sent only a few observations a day (as a newly opened ride does)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from platform_assets.definitions import build_definitions
from platform_assets.run import run_partition
from platform_assets.wait_times import definitions as wait_times
from platform_assets.wait_times.config import WaitTimesConfig
from platform_assets.wait_times.logic.gates import critical_model_gate
from platform_assets.wait_times.logic.progress import Throttle, progress_line
from platform_assets.wait_times.logic.summary import format_summary, from_run
from platform_assets.wait_times.logic.tables import JOB, read_day
from platform_assets.wait_times.logic.training import TrainSettings, trainable
from platform_assets.wait_times.logic.world import World, WorldParams
from platform_assets.wait_times.partitions import HISTORY_START
from platform_core.storage import SUCCESS_MARKER, DataLayout, write_once_dir
from resources import Warehouse

WORLD = WorldParams(seed=11, entities=30, start=HISTORY_START, history_days=7, target_rows=300_000_000)
FIRST_DAY = date.fromisoformat(HISTORY_START) + timedelta(days=WORLD.history_days - 1)
NEW_RIDE = 21  # tier 1 (EP), open since the first day; its feed sends 4 observations a day: 28 in all
SETTINGS = WaitTimesConfig(workers=2, max_rounds=60)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[DataLayout, dict]:
    root = tmp_path_factory.mktemp("wait_times_fallback")
    layout, world = DataLayout.at(root / "data"), World(WORLD)
    for k in range(WORLD.history_days):
        day = date.fromisoformat(HISTORY_START) + timedelta(days=k)
        tables = world.day(day)
        observations = tables["observations"]
        thin = observations.filter(pl.col("entity_id") == NEW_RIDE).head(4)
        with write_once_dir(layout.landing(JOB, day.isoformat()), last=SUCCESS_MARKER) as tmp:
            pl.concat([observations.filter(pl.col("entity_id") != NEW_RIDE), thin]).write_parquet(tmp / "observations.parquet")
            for name in ("entities", "park_hours", "events"):
                tables[name].write_parquet(tmp / f"{name}.parquet")
            (tmp / SUCCESS_MARKER).write_text("")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    defs = build_definitions(Warehouse(data_dir=str(layout.root)), {JOB: SETTINGS})
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return layout, run_partition(wait_times.job, FIRST_DAY.isoformat(), instance, defs, progress=lambda _line: None)


def test_a_critical_entity_too_new_to_train_gets_the_fallback_and_the_run_passes(run):
    layout, recorded = run
    checks = {c["check"]: c["passed"] for c in recorded["checks"]}
    assert checks["entity_models.critical_entities_have_model"] and checks["forecasts.forecast_coverage"]
    assert checks["fact_observations.quarantine_rate"] and all(checks.values()), checks

    results = read_day(layout, "training_results", FIRST_DAY)
    new_ride = results.filter(pl.col("entity_id") == NEW_RIDE).row(0, named=True)
    assert (new_ride["tier"], new_ride["status"], new_ride["reason"]) == (1, "skipped", "too_few_observations")
    assert results.filter(pl.col("entity_id") != NEW_RIDE)["status"].unique().to_list() == ["trained"]

    forecasts = read_day(layout, "forecasts", FIRST_DAY)
    assert set(forecasts["entity_id"]) == set(results["entity_id"])  # no hole
    mine = forecasts.filter(pl.col("entity_id") == NEW_RIDE)
    assert mine["forecast_source"].unique().to_list() == ["fallback_entity_profile"] and mine["model_version"].is_null().all()
    assert (mine["predicted_wait"] > 0).all() and mine["predicted_wait"].n_unique() > 1  # a profile, not a constant
    others = forecasts.filter(pl.col("entity_id") != NEW_RIDE)
    assert others["forecast_source"].unique().to_list() == ["model"]
    assert len(mine) == len(others.filter(pl.col("entity_id") == others["entity_id"][0]))  # same park hours: same slots
    wti = read_day(layout, "wti", FIRST_DAY).filter(pl.col("park") == "EP")
    assert (wti["entities"] == int((read_day(layout, "dim_entity", FIRST_DAY)["park"] == "EP").sum())).all()

    gate = recorded["stages"]["entity_models"][-1]["training"]
    assert (gate["too_few_observations"], gate["too_few_entities"]) == (1, [NEW_RIDE])
    quality = read_day(layout, "model_quality", FIRST_DAY).filter(pl.col("entity_id") == NEW_RIDE).row(0, named=True)
    assert quality["model_version"] is None and quality["forecast_source"] == "fallback_entity_profile"
    text = format_summary(from_run(recorded))
    assert "too few observations to train (forecast by the fallback): 1 (tier 1: 1)" in text
    assert f"tier-1 entities on the fallback (too new to train, or failed): 1: {NEW_RIDE}" in text
    assert f"wait_times_forecasts_{FIRST_DAY.isoformat().replace('-', '_')}" in text


def test_the_views_answer_in_the_catalog(run):
    import duckdb

    layout, _ = run
    suffix = FIRST_DAY.isoformat().replace("-", "_")
    with duckdb.connect(str(layout.catalog), read_only=True) as con:
        sources = dict(con.execute(f"SELECT forecast_source, count(DISTINCT entity_id) FROM wait_times_forecasts_{suffix} "
                                   "GROUP BY ALL").fetchall())
        parks = con.execute(f"SELECT count(DISTINCT park) FROM wait_times_wti_{suffix}").fetchone()[0]
        quality = con.execute("SELECT count(*), count(model_version), max(mae) FROM wait_times_model_quality").fetchone()
    assert sources == {"model": WORLD.entities - 1, "fallback_entity_profile": 1}
    assert parks == read_day(layout, "dim_entity", FIRST_DAY)["park"].n_unique()
    assert quality[:2] == (WORLD.entities, WORLD.entities - 1) and quality[2] > 0


def test_a_failed_critical_entity_blocks_and_is_named_without_the_tier_size():
    index = pl.DataFrame({"entity_id": range(1, 31), "tier": [1] * 25 + [2] * 5, "observation_count": [5_000] * 28 + [20, 0]})
    status = {3: ("failed", "error", "RuntimeError: boom"), 4: ("skipped", "too_few_observations", None)}
    results = pl.DataFrame([{"entity_id": e, "status": status.get(e, ("trained", "no_model", None))[0],
                             "reason": status.get(e, ("trained", "no_model", None))[1],
                             "error": status.get(e, ("trained", "no_model", None))[2]} for e in range(1, 31)])
    with_model = set(range(1, 31)) - {3, 4, 5, 6}  # 5 and 6: tier 1, never trained this run; 6 has too few rows
    results = results.with_columns(pl.when(pl.col("entity_id").is_in([5, 6])).then(pl.lit("skipped"))
                                   .otherwise("status").alias("status"),
                                   pl.when(pl.col("entity_id").is_in([5, 6])).then(pl.lit("not_selected"))
                                   .otherwise("reason").alias("reason"))
    index = index.with_columns(pl.when(pl.col("entity_id") == 6).then(10).otherwise("observation_count").alias("observation_count"))
    gate = critical_model_gate(index, results, with_model, TrainSettings())
    assert not gate.passed and gate.blocking
    assert (gate.metadata["without_model"], gate.metadata["entities"]) == (2, [3, 5])
    assert (gate.metadata["served_by_fallback"], gate.metadata["fallback_entities"]) == (2, [4, 6])
    assert gate.metadata["problem"].startswith("2 tier-1 entities have no model after the run: 3 (failed: RuntimeError: boom); 5 (")
    assert "25" not in gate.metadata["problem"]  # the tier's size is not the news
    passing = critical_model_gate(index, results, with_model | {3, 5}, TrainSettings())
    assert passing.passed and passing.metadata["fallback"].endswith("served by the fallback forecast: 4, 6")
    assert not trainable(61, TrainSettings()) and trainable(62, TrainSettings())


def test_progress_lines_are_throttled_and_carry_an_eta():
    now = [0.0]
    lines: list[str] = []
    throttle = Throttle(lines.append, every_s=10.0, clock=lambda: now[0])
    for t in (0.0, 3.0, 9.9, 10.0, 15.0, 21.0):
        now[0] = t
        throttle(f"t={t}")
    now[0] = 22.0
    throttle("done", last=True)
    assert lines == ["t=0.0", "t=10.0", "t=21.0", "done"]
    assert progress_line("training", 450, 1_800, 90.0) == "training: 450 of 1,800 entities (25%); 1m 30s elapsed, ETA 4m 30s"
