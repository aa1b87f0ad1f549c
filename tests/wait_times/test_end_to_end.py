"""wait_times end to end through Dagster on a small world (30 entities, a week of history from the
job's first partition): the first day trains every entity, forecasts all of them and writes the
WTI; the next day trains only the entities past the new-observation threshold or their tier's
age (the others skipped as not_due); the rollback job returns one entity to its previous
champion; and entity_models' run config retrains one entity and nothing else."""

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
from platform_assets.wait_times.keys import key
from platform_assets.wait_times.logic.delivery import deliver_day, deliver_history, load_world
from platform_assets.wait_times.logic.tables import JOB, read_day
from platform_assets.wait_times.logic.versions import champion_ref, model_name
from platform_assets.wait_times.logic.world import WorldParams
from platform_assets.wait_times.partitions import HISTORY_START
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.storage import DataLayout
from resources import Warehouse

# 30 entities over the job's first 7 days, about 3,000 observations a day
WORLD = WorldParams(seed=11, entities=30, start=HISTORY_START, history_days=7, target_rows=300_000_000)
FIRST_DAY = date.fromisoformat(HISTORY_START) + timedelta(days=WORLD.history_days - 1)
NEXT_DAY = FIRST_DAY + timedelta(days=1)
# 82 to 173 new observations per entity on the next day: a threshold of 140 leaves about half of the
# tier 2-4 entities below it (tier 1 is due anyway, by age)
SETTINGS = WaitTimesConfig(min_new_observations=140, workers=2, max_rounds=150)


def definitions(layout: DataLayout) -> dg.Definitions:
    return build_definitions(Warehouse(data_dir=str(layout.root)), {JOB: SETTINGS})


def open_instance(home: Path) -> dg.DagsterInstance:
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def run_day(root: Path, day: date) -> dict:
    layout = DataLayout.at(root / "data")
    with open_instance(root / "dagster_home") as instance:
        return run_partition(wait_times.job, day.isoformat(), instance, definitions(layout), progress=lambda _line: None)


def champions(layout: DataLayout) -> dict[int, str | None]:
    registry = ModelRegistry(layout.models)
    return {e: (ref.version if (ref := champion_ref(registry, e)) else None) for e in range(1, WORLD.entities + 1)}


def results(layout: DataLayout, day: date) -> dict[int, dict]:
    return {r["entity_id"]: r for r in read_day(layout, "training_results", day).iter_rows(named=True)}


def copy_of(root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(root, target)
    return target


@pytest.fixture(scope="module")
def first_day(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("wait_times_e2e")
    deliver_history(DataLayout.at(root / "data"), WORLD)
    return root, run_day(root, FIRST_DAY)


@pytest.fixture(scope="module")
def next_day(first_day, tmp_path_factory) -> tuple[Path, dict, dict[int, str | None]]:
    """A copy of the first day's state with the next day delivered and run; the champions before it."""
    root = copy_of(first_day[0], tmp_path_factory.mktemp("wait_times_next"))
    layout = DataLayout.at(root / "data")
    before = champions(layout)
    deliver_day(layout, load_world(layout), NEXT_DAY)
    return root, run_day(root, NEXT_DAY), before


def test_the_first_day_trains_every_entity_and_forecasts_all(first_day):
    root, recorded = first_day
    layout = DataLayout.at(root / "data")
    assert recorded["checks"] and all(c["passed"] for c in recorded["checks"]), recorded["checks"]
    assert {c["check"] for c in recorded["checks"]} >= {
        "fact_observations.quarantine_rate", "entity_models.critical_entities_have_model",
        "entity_models.no_failed_entities", "forecasts.forecast_coverage"}
    assert [m["partition"] for m in recorded["stages"]["fact_observations"]] == [f"{HISTORY_START}..{FIRST_DAY}"]

    entities = read_day(layout, "dim_entity", FIRST_DAY)
    assert len(entities) == WORLD.entities
    trained = results(layout, FIRST_DAY)
    assert {r["status"] for r in trained.values()} == {"trained"} and len(trained) == WORLD.entities
    assert all(r["promoted"] and r["reason"].startswith("no_model") for r in trained.values())
    current = champions(layout)
    assert all(current[e] == trained[e]["version"] and current[e].startswith(FIRST_DAY.isoformat()) for e in current)
    training = recorded["stages"]["entity_models"][0]["training"]
    assert (training["trained"], training["skipped"], training["failed"]) == (WORLD.entities, 0, 0)
    assert sum(t["trained"] for t in training["by_tier"].values()) == WORLD.entities

    forecasts = read_day(layout, "forecasts", FIRST_DAY)
    horizon = [FIRST_DAY + timedelta(days=d) for d in range(1, SETTINGS.horizon_days + 1)]
    assert set(forecasts["entity_id"]) == set(entities["entity_id"])
    assert sorted(set(forecasts["forecast_date"])) == horizon
    per_entity = forecasts.group_by("entity_id", "park").agg(pl.len(), pl.col("model_version").unique())
    slots_per_park = forecasts.group_by("park").agg(pl.col("slot_start").n_unique().alias("slots"))
    assert per_entity.join(slots_per_park, on="park").filter(pl.col("len") != pl.col("slots")).is_empty()
    assert all(versions == [current[e]] for e, versions in per_entity.select("entity_id", "model_version").iter_rows())
    assert forecasts["predicted_wait"].min() >= 0 and forecasts["predicted_wait"].is_finite().all()
    truth = recorded["stages"]["forecasts"][0]["against_truth"]
    assert truth["rows"] == len(forecasts) and 0 < truth["mae"] < 0.5 * truth["mean_truth"]

    wti = read_day(layout, "wti", FIRST_DAY)
    parks = set(entities["park"])
    assert set(wti["park"]) == parks and sorted(set(wti["forecast_date"])) == horizon
    assert len(wti) == len(parks) * len(horizon) and (wti["wti"] > 0).all()
    counts = dict(entities.group_by("park").len().iter_rows())
    assert all(counts[p] == n for p, n in wti.select("park", "entities").unique().iter_rows())


def test_the_next_day_trains_only_the_due_entities(next_day):
    root, recorded, before = next_day
    layout = DataLayout.at(root / "data")
    assert all(c["passed"] for c in recorded["checks"]), recorded["checks"]

    # what is due, computed from the fact tables themselves: tier 1 daily, the others at 140 new observations
    facts = pl.concat([read_day(layout, "fact_observations", d) for d in
                       (date.fromisoformat(HISTORY_START) + timedelta(days=k) for k in range(WORLD.history_days + 1))])
    through = {day: dict(facts.filter(pl.col("observed_at").dt.date() <= day).group_by("entity_id").len().iter_rows())
               for day in (FIRST_DAY, NEXT_DAY)}
    entities = read_day(layout, "dim_entity", NEXT_DAY)
    tier = dict(entities.select("entity_id", "tier").iter_rows())
    new = {e: through[NEXT_DAY].get(e, 0) - through[FIRST_DAY].get(e, 0) for e in tier}
    due = {e for e in tier if tier[e] == 1 or new[e] >= SETTINGS.min_new_observations}
    assert 0 < len(due) < len(tier) and {e for e in tier if tier[e] > 1} & due and {e for e in tier if tier[e] > 1} - due

    outcome = results(layout, NEXT_DAY)
    fitted = {e for e, r in outcome.items() if r["status"] in ("trained", "degraded")}
    assert fitted == due
    assert {outcome[e]["reason"] for e in set(tier) - due} == {"not_due"}
    assert {outcome[e]["status"] for e in set(tier) - due} == {"skipped"}
    assert all(outcome[e]["reason"].startswith("tier_age" if new[e] < SETTINGS.min_new_observations else "new_observations")
               for e in due)
    after = champions(layout)
    assert all(after[e] == before[e] for e in set(tier) - due)  # skipped entities keep their champion
    promoted = {e for e in due if outcome[e]["promoted"]}
    assert promoted and all(after[e] == outcome[e]["version"] != before[e] for e in promoted)
    assert set(read_day(layout, "forecasts", NEXT_DAY)["entity_id"]) == set(tier)


def test_the_rollback_job_returns_one_entity_to_its_previous_champion(next_day, tmp_path):
    root = copy_of(next_day[0], tmp_path)
    layout = DataLayout.at(root / "data")
    before_next, now = next_day[2], champions(layout)
    entity = min(e for e in now if now[e] != before_next[e])
    defs = definitions(layout)
    with open_instance(root / "dagster_home") as instance:
        result = defs.resolve_job_def(f"{JOB}_rollback").execute_in_process(
            instance=instance, run_config={"ops": {"rollback_entity_models": {
                "config": {"entity_id": entity, "reason": "end-to-end test"}}}})
    assert result.success
    assert result.output_for_node("rollback_entity_models")["rolled_back"] == {entity: before_next[entity]}
    after = champions(layout)
    assert after[entity] == before_next[entity]
    assert {e: v for e, v in after.items() if e != entity} == {e: v for e, v in now.items() if e != entity}
    registry = ModelRegistry(layout.models)
    assert now[entity] in registry.versions(JOB, model_name(entity))  # rolled back, not deleted
    assert registry.champion_history(JOB, model_name(entity))[-1]["reason"] == "rollback: end-to-end test"


def test_run_config_retrains_one_entity_only(next_day, tmp_path):
    root = copy_of(next_day[0], tmp_path)
    layout = DataLayout.at(root / "data")
    skipped = results(layout, NEXT_DAY)
    entity = min(e for e, r in skipped.items() if r["reason"] == "not_due")
    before = champions(layout)
    defs = definitions(layout)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={key("entity_models")})
    with open_instance(root / "dagster_home") as instance:
        result = job.execute_in_process(instance=instance, partition_key=NEXT_DAY.isoformat(), run_config={
            "ops": {"wait_times__entity_models": {"config": {"mode": "entity", "entity_id": entity}}}})
    assert result.success
    outcome = results(layout, NEXT_DAY)
    assert {e for e, r in outcome.items() if r["status"] != "skipped"} == {entity}
    assert outcome[entity]["status"] == "trained" and outcome[entity]["promoted"]
    assert {r["reason"] for e, r in outcome.items() if e != entity} <= {"not_due", "not_selected"}
    after = champions(layout)
    assert after[entity] == outcome[entity]["version"] != before[entity] and after[entity].startswith(NEXT_DAY.isoformat())
    assert {e: v for e, v in after.items() if e != entity} == {e: v for e, v in before.items() if e != entity}
    metadata = ModelRegistry(layout.models).metadata(ModelRef(JOB, model_name(entity), after[entity]))
    assert metadata["trained_on"] == NEXT_DAY.isoformat() and metadata["previous_version"] == before[entity]
