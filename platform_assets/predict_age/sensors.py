"""predict_age's sensors and schedules. Deliveries become materializations of the landing
assets; everything after that is declarative automation on the assets (GUARDED_EAGER), so the
daemon, a backfill and `make run` follow the same graph."""

import dagster as dg

from platform_assets.predict_age.assets import landing_snapshot
from platform_assets.predict_age.daily import landing_daily
from platform_assets.predict_age.jobs import daily_job, prepare_job
from platform_assets.predict_age.keys import JOB
from platform_assets.sensors import automation_sensor, landing_sensor
from platform_core.periods import Quarter, parse_day

snapshot_sensor = landing_sensor(f"{JOB}_snapshot_sensor", landing_snapshot, lambda w: w.layout().landing_area(JOB),
                                 Quarter.parse, lambda name: Quarter.parse(name).partition_key)
daily_sensor = landing_sensor(f"{JOB}_daily_sensor", landing_daily, lambda w: w.layout().landing_area(JOB, "daily"),
                              parse_day, lambda name: parse_day(name).isoformat())

schedules = [
    dg.build_schedule_from_partitioned_job(prepare_job, name=f"{JOB}_quarterly_schedule",
                                           default_status=dg.DefaultScheduleStatus.STOPPED),
    dg.build_schedule_from_partitioned_job(daily_job, name=f"{JOB}_daily_schedule", hour_of_day=6,
                                           default_status=dg.DefaultScheduleStatus.STOPPED),
]
sensors = [snapshot_sensor, daily_sensor, automation_sensor(JOB)]
