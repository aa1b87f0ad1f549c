"""Small helpers every asset module uses: asset keys, check specs and results, timing, metadata."""

import time
from contextlib import contextmanager

import dagster as dg

from platform_core.quarters import Quarter

JOB = "predict_age"
PREFIX = [JOB]
CATALOG_POOL = "duckdb_catalog"


def latest_metadata(instance: dg.DagsterInstance, asset: str, partition: str) -> dict | None:
    """Metadata values of an asset partition's latest materialization (None if never materialized)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key(asset), asset_partitions=[partition]), limit=1).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()} if records else None


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([*PREFIX, name])


def check(name: str, asset: str, description: str, blocking: bool = True) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=key(asset), blocking=blocking, description=description)


def result(spec: dg.AssetCheckSpec, passed: bool, severity=dg.AssetCheckSeverity.ERROR, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=spec.name, asset_key=spec.asset_key, passed=bool(passed),
                               severity=severity, metadata=metadata)


@contextmanager
def timed(metadata: dict):
    start = time.perf_counter()
    yield
    metadata["duration_s"] = round(time.perf_counter() - start, 3)


def stage_metadata(quarter: Quarter, rows_in: int, rows_out: int, duration: float, **extra) -> dict:
    return {"quarter": quarter.label, "rows_in": rows_in, "rows_out": rows_out, "duration_s": duration,
            "rows_per_s": round(rows_in / duration) if duration else None, **extra}


def md(text: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(text)


def quarter_of(context: dg.AssetExecutionContext) -> Quarter:
    return Quarter.parse(context.partition_key)
