"""Landing sensors as the daemon evaluates them: new, unchanged, half-written, badly named,
out-of-range and re-delivered folders, recorded as materializations of the landing assets."""

import json
import os
import time

import dagster as dg

from platform_assets.predict_age.keys import key
from platform_assets.predict_age.logic.generator import generate_daily_arrivals
from platform_assets.predict_age.sensors import daily_sensor, snapshot_sensor
from platform_core.periods import Quarter, parse_day
from platform_core.storage import SUCCESS_MARKER
from resources import Warehouse
from tests.conftest import QUARTER
from tests.predict_age.helpers import definitions


def tick(sensor, layout, instance, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions(layout),
                                      resources={"warehouse": Warehouse(data_dir=str(layout.root))})
    return sensor(context)


def recorded(result: dg.SensorResult) -> list[tuple[str, str]]:
    return [(e.asset_key.path[-1], e.partition) for e in result.asset_events]


def test_snapshot_sensor_records_new_and_redelivered_snapshots_only(data_layout, instance):
    first = tick(snapshot_sensor, data_layout, instance)
    assert recorded(first) == [("landing_snapshot", QUARTER.partition_key)]
    assert first.asset_events[0].tags["dagster/data_version"] == json.loads(first.cursor)["2025q3"]
    assert recorded(tick(snapshot_sensor, data_layout, instance, first.cursor)) == []

    half = data_layout.landing("predict_age", QUARTER.previous())  # a delivery still being copied
    half.mkdir(parents=True)
    (half / "part-00000.parquet").write_bytes(b"PAR1 incomplete")
    for name in ("2025q3; DROP VIEW x", "2023q4"):  # a bad name; a quarter before the first partition
        odd = data_layout.landing_area("predict_age") / name
        odd.mkdir()
        (odd / SUCCESS_MARKER).write_text("")
    assert recorded(tick(snapshot_sensor, data_layout, instance, first.cursor)) == []

    marker = data_layout.landing("predict_age", QUARTER) / SUCCESS_MARKER  # re-delivered: a new marker
    later = time.time() + 5
    os.utime(marker, (later, later))
    again = tick(snapshot_sensor, data_layout, instance, first.cursor)
    assert recorded(again) == [("landing_snapshot", QUARTER.partition_key)]  # judged alone: the odd folders do not block it
    assert again.asset_events[0].tags["dagster/data_version"] != first.asset_events[0].tags["dagster/data_version"]


def test_daily_sensor_records_the_day(data_layout, instance):
    day = parse_day("2025-08-15")
    generate_daily_arrivals(data_layout.landing("predict_age", day, feed="daily"),
                            data_layout.truth("predict_age", day, feed="daily"), day, 100)
    result = tick(daily_sensor, data_layout, instance)
    assert recorded(result) == [("landing_daily", "2025-08-15")]
    assert tick(daily_sensor, data_layout, instance, result.cursor).asset_events == []


def test_a_recorded_delivery_starts_the_quarter_through_automation(data_layout, instance):
    """The sensor's event, stored as the daemon stores it, is what automation reacts to."""
    defs = definitions(data_layout)
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert before.total_requested == 0
    for event in tick(snapshot_sensor, data_layout, instance).asset_events:
        instance.report_runless_asset_event(event)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    requested = {r.key.path[-1]: r.true_subset.expensively_compute_partition_keys() for r in result.results if r.true_subset.size}
    assert requested == {"source_snapshot": {QUARTER.partition_key}}
    assert key("source_snapshot") in {r.key for r in result.results}
    assert Quarter.parse(next(iter(requested["source_snapshot"]))) == QUARTER


def test_schedules_request_the_closed_quarter_and_the_previous_day():
    from datetime import datetime, timezone

    from platform_assets.predict_age.sensors import daily_schedule, quarterly_schedule

    def requested(schedule, at: datetime) -> str:
        return schedule(dg.build_schedule_context(scheduled_execution_time=at)).partition_key

    assert requested(quarterly_schedule, datetime(2025, 10, 1, 6, tzinfo=timezone.utc)) == "2025-07-01"
    assert requested(quarterly_schedule, datetime(2026, 1, 1, 6, tzinfo=timezone.utc)) == "2025-10-01"
    assert requested(daily_schedule, datetime(2025, 8, 16, 6, tzinfo=timezone.utc)) == "2025-08-15"
    assert requested(daily_schedule, datetime(2025, 1, 1, 6, tzinfo=timezone.utc)) == "2024-12-31"


def test_only_a_partitions_own_folder_counts_and_a_recorded_version_is_not_recorded_again(data_layout, instance):
    for name in ("2025Q3", "2025-07-01"):  # the same quarter spelled otherwise: not the folder the assets read
        odd = data_layout.landing_area("predict_age") / name
        odd.mkdir()
        (odd / SUCCESS_MARKER).write_text("")
    first = tick(snapshot_sensor, data_layout, instance)
    assert recorded(first) == [("landing_snapshot", QUARTER.partition_key)]
    assert first.asset_events[0].metadata["path"].value.endswith("/2025q3")
    for event in first.asset_events:  # stored, as the daemon stores them
        instance.report_runless_asset_event(event)
    assert recorded(tick(snapshot_sensor, data_layout, instance, cursor=None)) == []  # a lost cursor re-records nothing
