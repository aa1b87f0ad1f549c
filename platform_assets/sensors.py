"""Sensors every job uses: a landing sensor that records each delivery as a materialization of
the job's external landing asset (lineage starts at the delivery, and declarative automation
takes it from there), the job's automation sensor, and a run-failure sensor for alerting.

Cursors record each delivery's version (marker mtime and size), so a re-delivered folder is
seen again and an unchanged one never is. PLATFORM_SENSORS=off starts every sensor stopped.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import dagster as dg

from platform_core.landing import complete_deliveries, new_deliveries
from resources import Warehouse

MAX_DELIVERIES_PER_TICK = 20
DEFAULT_STATUS = (dg.DefaultSensorStatus.STOPPED if os.getenv("PLATFORM_SENSORS", "on") == "off"
                  else dg.DefaultSensorStatus.RUNNING)


def _recorded_versions(instance: dg.DagsterInstance, asset: dg.AssetKey, partitions: list[str]) -> dict[str, str | None]:
    """The data version of each partition's latest materialization of `asset` (one paged query)."""
    versions: dict[str, str | None] = {}
    cursor = None
    while partitions:
        page = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset, asset_partitions=partitions),
                                               limit=1000, cursor=cursor)
        for record in page.records:  # newest first: the first seen per partition is its latest
            versions.setdefault(record.partition_key, (record.asset_materialization.tags or {}).get("dagster/data_version"))
        if not page.has_more:
            break
        cursor = page.cursor
    return versions


def landing_events(area, partition_key: Callable[[str], str], folder_of: Callable[[str], str], asset: dg.AssetKey,
                   valid_keys: set[str], cursor: str | None, instance: dg.DagsterInstance | None = None,
                   log=None, limit: int | None = None) -> tuple[list[dg.AssetMaterialization], str]:
    """New or re-delivered complete folders under `area` as materializations of `asset`, at most
    `limit` (the sensor's per-tick bound; `make run` records all it reads). Each folder is judged
    alone: a name that is not a partition's own folder name (`2025Q3` or `2025-07-01` beside
    `2025q3`), or a partition outside the range, is logged and skipped. A version the instance
    already recorded for the partition (by `make run`, or before the cursor was lost) is not
    recorded again and does not count against the limit, so an empty cursor after `make run`
    reports nothing and automation re-runs nothing."""
    deliveries, refused = complete_deliveries(area, partition_key)
    refused += [d.name for d in deliveries if folder_of(partition_key(d.name)) != d.name]
    outside = [d.name for d in deliveries if d.name not in refused and partition_key(d.name) not in valid_keys]
    if (refused or outside) and log is not None:
        log.warning(f"{area}: skipping folders that are not a partition's folder {refused} or outside the partitions {outside}")
    seen = json.loads(cursor) if cursor else {}
    new = new_deliveries([d for d in deliveries if d.name not in refused + outside], seen)
    if instance is not None:
        recorded = _recorded_versions(instance, asset, [partition_key(d.name) for d in new])
        seen.update({d.name: d.version for d in new if recorded.get(partition_key(d.name)) == d.version})
        new = [d for d in new if recorded.get(partition_key(d.name)) != d.version]
    new = new[:limit]
    seen.update({d.name: d.version for d in new})
    events = [dg.AssetMaterialization(
        asset_key=asset, partition=partition_key(d.name),
        description=f"delivery {d.name} (version {d.version})",
        metadata={"path": dg.MetadataValue.path(str(d.path)), "delivery_version": d.version},
        tags={"dagster/data_version": d.version}) for d in new]
    return events, json.dumps(seen, sort_keys=True)


def landing_sensor(name: str, asset: dg.AssetSpec, area_of: Callable[[Warehouse], object],
                   partition_key: Callable[[str], str], folder_of: Callable[[str], str]) -> dg.SensorDefinition:
    """A sensor recording complete deliveries (with `_SUCCESS`) of one landing area."""

    @dg.sensor(name=name, minimum_interval_seconds=30, default_status=DEFAULT_STATUS,
               description=f"A complete delivery (with _SUCCESS) becomes a materialization of {asset.key.to_user_string()}.")
    def _sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse) -> dg.SensorResult:
        valid = set(asset.partitions_def.get_partition_keys(dynamic_partitions_store=context.instance))
        events, cursor = landing_events(area_of(warehouse), partition_key, folder_of, asset.key, valid, context.cursor,
                                        context.instance, context.log, limit=MAX_DELIVERIES_PER_TICK)
        return dg.SensorResult(asset_events=events, cursor=cursor)

    return _sensor


def automation_sensor(job: str) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the automation conditions of one job's assets (Dagster's default one starts stopped)."""
    return dg.AutomationConditionSensorDefinition(
        f"{job}_automation", target=dg.AssetSelection.key_prefixes([job]),
        default_status=DEFAULT_STATUS, minimum_interval_seconds=30)


@dg.run_failure_sensor(name="run_failure_alert", default_status=DEFAULT_STATUS,
                       description="Writes one clear line per failed run: the place to hook alerting.")
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition", "-")
    reason = context.failure_event.message if context.failure_event else "unknown"
    context.log.error(f"RUN FAILED job={run.job_name} partition={partition} run_id={run.run_id}: {reason}")
