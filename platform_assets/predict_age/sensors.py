"""predict_age's sensors and schedules. Deliveries become materializations of the landing
assets; everything after that is declarative automation on the assets (GUARDED_EAGER), so the
daemon, a backfill and `make run` follow the same graph."""

from datetime import timedelta

import dagster as dg

from platform_assets.predict_age.assets import landing_snapshot
from platform_assets.predict_age.daily import landing_daily
from platform_assets.predict_age.jobs import daily_job, prepare_job
from platform_assets.predict_age.keys import JOB
from platform_assets.sensors import automation_sensor, landing_sensor
from platform_core.periods import Quarter, parse_day

snapshot_sensor = landing_sensor(f"{JOB}_snapshot_sensor", landing_snapshot, lambda w: w.layout().landing_area(JOB),
                                 lambda name: Quarter.parse(name).partition_key, lambda key: Quarter.parse(key).label)
daily_sensor = landing_sensor(f"{JOB}_daily_sensor", landing_daily, lambda w: w.layout().landing_area(JOB, "daily"),
                              lambda name: parse_day(name).isoformat(), lambda key: key)



@dg.schedule(name=f"{JOB}_quarterly_schedule", job=prepare_job, cron_schedule="0 6 1 1,4,7,10 *",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="On the first day of a quarter, the quarter that just closed (automation does the rest).")
def quarterly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    closed = Quarter.containing(context.scheduled_execution_time.date()).previous()
    return dg.RunRequest(partition_key=closed.partition_key, run_key=f"quarterly:{closed.label}")


@dg.schedule(name=f"{JOB}_daily_schedule", job=daily_job, cron_schedule="0 6 * * *",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="At 06:00, the previous day.")
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"daily:{day}")


schedules = [quarterly_schedule, daily_schedule]
sensors = [snapshot_sensor, daily_sensor, automation_sensor(JOB)]
