"""Sensors: new quarterly snapshots and daily files start runs; finished runs start the next.

A quarter needs three kinds of run (one per partitions definition): the snapshot sensor starts
`predict_age_prepare`; when it succeeds the chain sensor starts one `predict_age_batches` run
per batch (the run queue keeps at most `max_concurrent_runs` going); when the quarter's last
batch succeeds it starts `predict_age_publish`. Cursors record each delivery's version (marker
mtime and size) and run keys include it, so a re-delivered file runs again and an unchanged
one never does. PLATFORM_SENSORS=off starts them stopped.
"""

import json
import os

import dagster as dg

from platform_assets.common import JOB, key
from platform_assets.jobs import BATCHES, DAILY, PREPARE, PUBLISH, batches_job, daily_job, prepare_job, publish_job
from platform_assets.partitions import batch_partitions
from platform_core.landing import complete_deliveries, new_deliveries
from platform_core.quarters import Quarter, parse_day
from resources import Warehouse

MAX_REQUESTS_PER_TICK = 20
DEFAULT_STATUS = (dg.DefaultSensorStatus.STOPPED if os.getenv("PLATFORM_SENSORS", "on") == "off"
                  else dg.DefaultSensorStatus.RUNNING)


def _landing_tick(context: dg.SensorEvaluationContext, job_name: str, area, parse, partition_key) -> dg.SensorResult:
    deliveries, refused = complete_deliveries(area, parse)
    if refused:
        context.log.warning(f"ignoring landing folders with invalid names: {refused}")
    seen = json.loads(context.cursor) if context.cursor else {}
    new = new_deliveries(deliveries, seen, MAX_REQUESTS_PER_TICK)
    seen.update({d.name: d.version for d in new})
    return dg.SensorResult(
        run_requests=[dg.RunRequest(job_name=job_name, partition_key=partition_key(d.name), run_key=f"{d.name}:{d.version}",
                                    tags={"predict_age/delivery": d.version}) for d in new],
        cursor=json.dumps(seen, sort_keys=True),
    )


@dg.sensor(job=prepare_job, minimum_interval_seconds=30, default_status=DEFAULT_STATUS,
           description="A complete quarterly snapshot (with _SUCCESS) in landing/predict_age/<quarter>/ starts its quarter.")
def predict_age_snapshot_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse) -> dg.SensorResult:
    return _landing_tick(context, PREPARE, warehouse.layout().root / "landing" / JOB, Quarter.parse,
                         lambda name: Quarter.parse(name).partition_key)


@dg.sensor(job=daily_job, minimum_interval_seconds=30, default_status=DEFAULT_STATUS,
           description="A complete daily file (with _SUCCESS) in landing/predict_age_daily/<day>/ scores that day.")
def predict_age_daily_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse) -> dg.SensorResult:
    return _landing_tick(context, DAILY, warehouse.layout().root / "landing" / f"{JOB}_daily", parse_day,
                         lambda name: parse_day(name).isoformat())


def _latest_storage_ids(instance: dg.DagsterInstance, asset: dg.AssetKey, partitions: list[str]) -> dict[str, int]:
    latest: dict[str, int] = {}
    for partition in partitions:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1).records
        if records:
            latest[partition] = records[0].storage_id
    return latest


def next_runs(run: dg.DagsterRun, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """The runs that follow a successful prepare or batch run of a quarter."""
    if run.job_name == PREPARE:
        quarter_key = run.tags["dagster/partition"]
        return [dg.RunRequest(job_name=BATCHES, partition_key=dg.MultiPartitionKey({"batch": b, "quarter": quarter_key}),
                              run_key=f"{run.run_id}:{b}") for b in batch_partitions.get_partition_keys()]
    if run.job_name == BATCHES:
        quarter_key = run.tags["dagster/partition/quarter"]
        model = _latest_storage_ids(instance, key("age_models"), [quarter_key]).get(quarter_key, 0)
        batches = [str(dg.MultiPartitionKey({"batch": b, "quarter": quarter_key})) for b in batch_partitions.get_partition_keys()]
        done = _latest_storage_ids(instance, key("prediction_batches"), batches)
        if len(done) == len(batches) and min(done.values()) > model:
            return [dg.RunRequest(job_name=PUBLISH, partition_key=quarter_key,
                                  run_key=f"publish:{quarter_key}:{max(done.values())}")]
    return []


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[prepare_job, batches_job],
                      request_jobs=[batches_job, publish_job], default_status=DEFAULT_STATUS,
                      description="Prepare succeeded: score every batch. Last batch succeeded: publish the quarter.")
def predict_age_chain_sensor(context: dg.RunStatusSensorContext):
    return next_runs(context.dagster_run, context.instance)


schedules = [
    dg.build_schedule_from_partitioned_job(prepare_job, name="predict_age_quarterly_schedule",
                                           default_status=dg.DefaultScheduleStatus.STOPPED),
    dg.build_schedule_from_partitioned_job(daily_job, name="predict_age_daily_schedule", hour_of_day=6,
                                           default_status=dg.DefaultScheduleStatus.STOPPED),
]
sensors = [predict_age_snapshot_sensor, predict_age_daily_sensor, predict_age_chain_sensor]
