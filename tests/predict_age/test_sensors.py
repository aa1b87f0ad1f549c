"""Sensors as the daemon evaluates them: new, unchanged, half-written and re-delivered files."""

import json
import os
import time

import dagster as dg

from platform_assets.predict_age.jobs import BATCHES, PREPARE, PUBLISH
from platform_assets.predict_age.sensors import next_runs, predict_age_daily_sensor, predict_age_snapshot_sensor
from platform_assets.predict_age.logic.generator import generate_daily_arrivals
from platform_core.quarters import parse_day
from platform_core.storage import SUCCESS_MARKER
from platform_assets.predict_age.config import PredictAgeConfig
from resources import Warehouse
from tests.conftest import QUARTER
from tests.predict_age.helpers import definitions


def tick(sensor, layout, instance, cursor=None):
    defs = definitions(layout)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources={"warehouse": Warehouse(data_dir=str(layout.root))})
    return sensor(context)


def test_snapshot_sensor_requests_new_and_redelivered_snapshots_only(data_layout, instance):
    first = tick(predict_age_snapshot_sensor, data_layout, instance)
    assert [(r.job_name, r.partition_key) for r in first.run_requests] == [(PREPARE, QUARTER.partition_key)]
    assert first.run_requests[0].run_key.startswith("2025q3:")
    cursor = json.loads(first.cursor)
    assert set(cursor) == {"2025q3"}

    assert tick(predict_age_snapshot_sensor, data_layout, instance, first.cursor).run_requests == []

    half = data_layout.landing("predict_age", QUARTER.previous())  # a delivery still being copied
    half.mkdir(parents=True)
    (half / "part-00000.parquet").write_bytes(b"PAR1 incomplete")
    assert tick(predict_age_snapshot_sensor, data_layout, instance, first.cursor).run_requests == []

    bad = data_layout.root / "landing" / "predict_age" / "2025q3; DROP VIEW x"
    bad.mkdir()
    (bad / SUCCESS_MARKER).write_text("")
    assert tick(predict_age_snapshot_sensor, data_layout, instance, first.cursor).run_requests == []

    marker = data_layout.landing("predict_age", QUARTER) / SUCCESS_MARKER  # re-delivered: a new marker
    later = time.time() + 5
    os.utime(marker, (later, later))
    again = tick(predict_age_snapshot_sensor, data_layout, instance, first.cursor)
    assert [r.partition_key for r in again.run_requests] == [QUARTER.partition_key]
    assert again.run_requests[0].run_key != first.run_requests[0].run_key


def test_daily_sensor_requests_the_day(data_layout, instance):
    day = parse_day("2025-08-15")
    generate_daily_arrivals(data_layout.landing("predict_age", day, feed="daily"), data_layout.truth("predict_age", day, feed="daily"), day, 100)
    result = tick(predict_age_daily_sensor, data_layout, instance)
    assert [r.partition_key for r in result.run_requests] == ["2025-08-15"]
    assert tick(predict_age_daily_sensor, data_layout, instance, result.cursor).run_requests == []


def test_chain_requests_every_batch_then_publish_once_all_are_done(data_layout, instance):
    defs = definitions(data_layout)
    prepare = defs.resolve_job_def(PREPARE).execute_in_process(instance=instance, partition_key=QUARTER.partition_key)
    requests = next_runs(instance.get_run_by_id(prepare.run_id), instance)
    assert [r.job_name for r in requests] == [BATCHES] * 8
    last = None
    for i, request in enumerate(requests):
        last = defs.resolve_job_def(BATCHES).execute_in_process(instance=instance, partition_key=request.partition_key)
        follow = next_runs(instance.get_run_by_id(last.run_id), instance)
        assert follow == [] if i < len(requests) - 1 else [r.job_name for r in follow] == [PUBLISH]
    assert follow[0].partition_key == QUARTER.partition_key
