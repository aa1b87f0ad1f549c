"""`make dev` after `make run` starts nothing (issue #22): for every job, a small partition run the
way `make run` runs it (its deliveries recorded on the landing asset, then `run_partition` on the
same instance), then the daemon's ticks replayed: the job's landing sensors from an empty cursor,
their events stored as the daemon stores them, and the automation conditions from an empty
cursor (a first `make dev`) and from a cursor taken before the run (a `make dev` session that
existed before): no event, no request. A new delivery then runs what it needs and nothing else.

Readmission (25 months) and heavy_queries (44 days) deliver more than one landing tick's worth
of folders: `make run` recording only the first 20 was the storm's cause (the sensor reported the
rest as new deliveries, and automation re-ran history built from them)."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from datetime import date, timedelta
from typing import Callable

import dagster as dg
import pytest

from platform_assets.definitions import build_definitions
from platform_assets.job import PlatformJob
from platform_assets.run import history_keys, partition_keys, record_delivery, run_partition
from platform_core.storage import DataLayout
from resources import Warehouse

Request = tuple[str, str | None]  # asset, partition (None: unpartitioned)


@dataclasses.dataclass
class Case:
    job: PlatformJob
    layout: DataLayout
    config: dg.ConfigurableResource
    partition: str
    next_partition: str
    deliver_next: Callable[[], None]

    @property
    def defs(self) -> dg.Definitions:
        return build_definitions(Warehouse(data_dir=str(self.layout.root)), {self.job.config_key: self.config},
                                 jobs=[self.job])


class Dev:
    """`make dev`'s daemon, one tick at a time: every landing sensor of the job (its events stored
    as the daemon stores them), then one automation evaluation; `run_requested` executes what was
    requested in process, one run per partition, as the automation sensor's runs would."""

    def __init__(self, case: Case, instance: dg.DagsterInstance, automation_cursor=None):
        self.case, self.instance, self.defs = case, instance, case.defs
        self.sensors = [s for s in self.defs.sensors if s.name.startswith(case.job.name)
                        and not isinstance(s, dg.AutomationConditionSensorDefinition)]
        self.sensor_cursors: dict[str, str | None] = {s.name: None for s in self.sensors}
        self.automation_cursor = automation_cursor
        self.graph = self.defs.resolve_asset_graph()

    def tick(self) -> tuple[list[Request], list[Request]]:
        events = []
        for sensor in self.sensors:
            result = sensor(dg.build_sensor_context(
                instance=self.instance, cursor=self.sensor_cursors[sensor.name], definitions=self.defs,
                resources={"warehouse": Warehouse(data_dir=str(self.case.layout.root))}))
            self.sensor_cursors[sensor.name] = result.cursor
            for event in result.asset_events:
                self.instance.report_runless_asset_event(event)
                events.append((event.asset_key.to_user_string(), event.partition))
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.automation_cursor)
        self.automation_cursor = result.cursor
        requested = [(r.key.to_user_string(), p) for r in result.results if r.true_subset.size
                     for p in (r.true_subset.expensively_compute_partition_keys()
                               if self.graph.get(r.key).partitions_def else [None])]
        return events, sorted(requested, key=str)

    def run_requested(self, requested: list[Request]) -> None:
        job_def = self.defs.resolve_implicit_global_asset_job_def()
        runs: dict[tuple, set[dg.AssetKey]] = defaultdict(set)
        for name, partition in requested:
            key = dg.AssetKey.from_user_string(name)
            runs[(id(self.graph.get(key).partitions_def), partition)].add(key)
        for (_, partition), keys in runs.items():
            result = job_def.get_subset(asset_selection=keys).execute_in_process(
                instance=self.instance, partition_key=partition, raise_on_error=False)
            assert result.success, f"{sorted(k.to_user_string() for k in keys)} [{partition}] failed"

    def run_until_idle(self, ticks: int = 12) -> tuple[list[Request], list[Request]]:
        all_events, done = [], []
        for _ in range(ticks):
            events, requested = self.tick()
            all_events += events
            if not requested:
                return all_events, done
            self.run_requested(requested)
            done += requested
        raise AssertionError(f"automation still requesting after {ticks} ticks: {done[-5:]}")


def needed(case: Case, defs: dg.Definitions) -> list[Request]:
    """What a new partition needs: each partitioned asset of the run selection for every partition
    that maps to it (its history is there). Readmission's unpartitioned assets do not run: its
    models are trained when missing only, and the prerequisites wait for the gold months before
    this test's shortened history (1999-2006)."""
    graph = defs.resolve_asset_graph()
    return sorted(((key.to_user_string(), k) for key in case.job.run_selection.resolve(graph)
                   if (partitions_def := graph.get(key).partitions_def) is not None
                   for k in partition_keys(partitions_def, case.next_partition)), key=str)


@pytest.mark.parametrize("name", ["predict_age", "engagement", "readmission", "wait_times", "heavy_queries"])
def test_make_dev_after_make_run_requests_nothing_and_a_new_delivery_what_it_needs(name, request, instance):
    case: Case = request.getfixturevalue(f"{name}_case")
    # a `make dev` session before this `make run`, on an instance that holds an event (another job's delivery):
    # after a tick that saw an empty event log, Dagster's all_new_updates_have_run_tags sees nothing new
    instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(["another_job", "landing"])))
    earlier_session = dg.evaluate_automation_conditions(defs=case.defs, instance=instance)
    assert earlier_session.total_requested == 0

    record_delivery(case.job, case.layout, case.partition, instance)  # what `make run` does
    run_partition(case.job, case.partition, instance, case.defs, progress=lambda _line: None)
    landing = case.job.landing.key.to_user_string()
    recorded = instance.get_materialized_partitions(case.job.landing.key)
    assert recorded == set(history_keys(case.job, case.job.landing.partitions_def, case.partition))  # every delivery read

    fresh, resumed = Dev(case, instance), Dev(case, instance, automation_cursor=earlier_session.cursor)
    for tick in range(4):
        for dev in (fresh, resumed):
            assert dev.tick() == ([], []), f"tick {tick}"
    assert instance.get_materialized_partitions(case.job.landing.key) == recorded

    case.deliver_next()
    events, done = fresh.run_until_idle()
    assert events == [(landing, case.next_partition)]
    assert sorted(done, key=str) == needed(case, fresh.defs)
    assert resumed.tick()[0] == [] and fresh.tick() == ([], [])


# --- one small world per job, delivered as the job's own generator delivers it ---------------------------------

@pytest.fixture
def predict_age_case(data_layout) -> Case:
    from platform_assets.predict_age import definitions as predict_age
    from platform_assets.predict_age.config import PredictAgeConfig
    from platform_assets.predict_age.logic.generator import generate_snapshot
    from platform_core.periods import Quarter
    from tests.conftest import QUARTER, SMALL_ROWS

    nxt = Quarter.parse("2025q4")
    return Case(predict_age.job, data_layout, PredictAgeConfig(xgb_rounds=60, xgb_max_depth=6), QUARTER.partition_key,
                nxt.partition_key, lambda: generate_snapshot(data_layout.landing("predict_age", nxt),
                                                             data_layout.truth("predict_age", nxt), nxt, SMALL_ROWS, seed=8))


@pytest.fixture
def engagement_case(tmp_path) -> Case:
    from platform_assets.engagement import definitions as engagement
    from platform_assets.engagement.config import EngagementConfig
    from platform_assets.engagement.logic.delivery import deliver_month
    from platform_core.periods import parse_month

    layout = DataLayout.at(tmp_path / "data")

    def deliver(label: str, seed: int) -> None:
        deliver_month(layout.landing("engagement", label), layout.truth("engagement", label), parse_month(label), 6_000,
                      seed, 1_500)

    deliver("2025-07", 7)
    return Case(engagement.job, layout, EngagementConfig(folds=2, min_labelled_rows=1_000, min_group_rows=50),
                "2025-07-01", "2025-08-01", lambda: deliver("2025-08", 8))


@pytest.fixture
def readmission_case(tmp_path) -> Case:
    from platform_assets.readmission import definitions as readmission
    from platform_assets.readmission.config import ReadmissionConfig
    from platform_assets.readmission.logic.world import deliver_months
    from tests.readmission.test_end_to_end import FIRST, MONTH, ROWS, write_config

    layout = DataLayout.at(tmp_path / "data")
    deliver_months(layout, rows=ROWS, seed=7, first=FIRST, last=MONTH)  # 25 months: more than a landing tick reports
    config = ReadmissionConfig(config_file=str(write_config(tmp_path / "model_config.yaml")), nthread=1)
    return Case(dataclasses.replace(readmission.job, history_start=f"{FIRST}-01"), layout, config, f"{MONTH}-01",
                "2009-02-01", lambda: deliver_months(layout, rows=ROWS, seed=7, first="2009-02", last="2009-02"))


@pytest.fixture
def wait_times_case(tmp_path) -> Case:
    from platform_assets.wait_times import definitions as wait_times
    from platform_assets.wait_times.logic.delivery import deliver_day, deliver_history, load_world
    from tests.wait_times.test_end_to_end import FIRST_DAY, NEXT_DAY, SETTINGS, WORLD

    layout = DataLayout.at(tmp_path / "data")
    deliver_history(layout, WORLD)
    return Case(wait_times.job, layout, SETTINGS, FIRST_DAY.isoformat(), NEXT_DAY.isoformat(),
                lambda: deliver_day(layout, load_world(layout), NEXT_DAY))


@pytest.fixture
def heavy_queries_case(tmp_path, tmp_path_factory) -> Case:
    from platform_assets.heavy_queries import definitions as heavy_queries
    from platform_assets.heavy_queries.logic.corpus import SMALL_CORPUS, build_corpus, load_corpus
    from platform_assets.heavy_queries.logic.delivery import deliver_log, generate_world
    from platform_assets.heavy_queries.logic.querylog import LogSpec
    from tests.heavy_queries.test_end_to_end import ROWS_PER_DAY, settings

    layout = DataLayout.at(tmp_path / "data")
    cache = tmp_path_factory.getbasetemp() / "heavy_queries_cache"  # shared with the job's own tests
    delivered = generate_world(layout, ROWS_PER_DAY, 7, SMALL_CORPUS, cache_root=cache)  # 44 days
    thresholds = {"cpu_ms": delivered.figures["local_cpu_threshold_ms"],
                  "peak_memory_bytes": delivered.figures["local_peak_memory_threshold_bytes"]}
    next_day = date.fromisoformat(delivered.written[-1]) + timedelta(days=1)

    def deliver() -> None:
        spec = LogSpec(days=len(delivered.written) + 1, rows_per_day=ROWS_PER_DAY, seed=7)
        deliver_log(layout, load_corpus(build_corpus(cache, SMALL_CORPUS)), spec, days=[next_day])

    return Case(heavy_queries.job, layout, settings(thresholds), delivered.written[-1], next_day.isoformat(), deliver)


def test_make_run_records_every_delivery_and_the_sensor_reports_at_most_a_tick_of_new_ones(tmp_path, instance):
    """25 delivered days (markers only: the sensor reads no data): `make run` records all 25, so the
    sensor from an empty cursor reports none; 23 re-delivered come 20 then 3, then none, and a lost
    cursor afterwards re-reports nothing."""
    import os
    import time

    from platform_assets.wait_times import definitions as wait_times
    from platform_assets.wait_times.sensors import observations_sensor
    from platform_core.storage import SUCCESS_MARKER

    layout = DataLayout.at(tmp_path / "data")
    days = [(date(2023, 9, 1) + timedelta(days=i)).isoformat() for i in range(25)]
    for day in days:
        layout.landing("wait_times", day).mkdir(parents=True)
        (layout.landing("wait_times", day) / SUCCESS_MARKER).write_text("rows=0\n")
    record_delivery(wait_times.job, layout, days[-1], instance)
    assert instance.get_materialized_partitions(wait_times.job.landing.key) == set(days)

    def tick(cursor):
        result = observations_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                             resources={"warehouse": Warehouse(data_dir=str(layout.root))}))
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        return [e.partition for e in result.asset_events], result.cursor

    events, cursor = tick(None)
    assert events == [] and json.loads(cursor).keys() == set(days)
    later = time.time() + 5
    for day in days[2:]:
        os.utime(layout.landing("wait_times", day) / SUCCESS_MARKER, (later, later))
    first, cursor = tick(cursor)
    second, cursor = tick(cursor)
    assert (first, second) == (days[2:22], days[22:])
    assert tick(cursor)[0] == [] and tick(None)[0] == []
