"""`make run`: one predict_age quarter end to end through Dagster, then an execution summary.

The quarter runs as three jobs on the configured instance (DAGSTER_HOME), one per partitions
definition: prepare (quarterly), one run per prediction batch (quarter x batch), publish
(quarterly). Each run stops the sequence if it fails or a blocking check fails. The summary is
read back from the instance's materialization records, so it shows what Dagster recorded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import dagster as dg

from platform_assets.common import JOB, latest_metadata
from platform_assets.definitions import defs
from platform_assets.jobs import BATCHES, PREPARE, PUBLISH
from platform_assets.partitions import batch_partitions
from platform_core.generator import generate_snapshot
from platform_core.quarters import Quarter
from platform_core.storage import SUCCESS_MARKER, DataLayout
from platform_core.summary import format_summary

STAGES = ["source_snapshot", "staging_features", "training_features", "age_models", "missing_rows_evaluation",
          "prediction_batches",
          "final_results", "human_qa", "prediction_batches_cleanup"]


LOG_LEVEL = os.getenv("PLATFORM_LOG_LEVEL", "WARNING")


class QuarterRunFailed(RuntimeError):
    pass


def _root_cause(error) -> str:
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _run(job_name: str, partition_key: str | dg.MultiPartitionKey, instance: dg.DagsterInstance, definitions: dg.Definitions):
    job = definitions.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, partition_key=partition_key, raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": LOG_LEVEL}}}})
    failed_checks = [e for e in result.get_asset_check_evaluations()
                     if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    if not result.success or failed_checks:
        errors = [f"{ev.step_key}: {_root_cause(ev.event_specific_data.error)}"
                  for ev in result.all_events if ev.is_step_failure]
        checks = [f"{e.asset_key.to_user_string()}.{e.check_name}: {e.metadata}" for e in failed_checks]
        raise QuarterRunFailed(f"{job_name} ({partition_key}) failed in run {result.run_id}:\n  "
                               + "\n  ".join(errors + checks))
    return result


def _metadata(instance: dg.DagsterInstance, asset: str, partitions: list[str]) -> list[dict]:
    return [m for m in (latest_metadata(instance, asset, p) for p in partitions) if m is not None]


def _check_results(instance: dg.DagsterInstance, runs: list[str]) -> list[dict]:
    checks = []
    for run_id in runs:
        for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
            ev = record.event_log_entry.dagster_event.event_specific_data
            checks.append({"check": f"{ev.asset_key.path[-1]}.{ev.check_name}", "passed": ev.passed})
    return checks


def run_quarter(quarter: Quarter, instance: dg.DagsterInstance, definitions: dg.Definitions = defs) -> dict:
    """Materialize every predict_age asset and check of one quarter; return what was recorded."""
    started = time.perf_counter()
    key_str = quarter.partition_key
    batch_keys = batch_partitions.get_partition_keys()
    runs = [_run(PREPARE, key_str, instance, definitions).run_id]
    for batch in batch_keys:
        runs.append(_run(BATCHES, dg.MultiPartitionKey({"batch": batch, "quarter": key_str}), instance, definitions).run_id)
    runs.append(_run(PUBLISH, key_str, instance, definitions).run_id)
    multi_keys = [str(dg.MultiPartitionKey({"batch": b, "quarter": key_str})) for b in batch_keys]
    return {
        "quarter": quarter.label,
        "wall_s": round(time.perf_counter() - started, 2),
        "runs": runs,
        "stages": {s: _metadata(instance, s, multi_keys if s == "prediction_batches" else [key_str]) for s in STAGES},
        "checks": _check_results(instance, runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quarter", default="2025q3")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate when the quarter has no snapshot yet")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    quarter = Quarter.parse(args.quarter)
    layout = DataLayout.at(os.getenv("PLATFORM_DATA_DIR", "data"))
    landing = layout.landing(JOB, quarter)
    marker = landing / SUCCESS_MARKER
    synthetic_rows = marker.read_text().split("\n")[0] if marker.exists() else None
    if not landing.exists() or (synthetic_rows is not None and synthetic_rows.startswith("rows=")
                                and synthetic_rows != f"rows={args.rows}"):
        t = time.perf_counter()
        generate_snapshot(landing, layout.truth(JOB, quarter), quarter, args.rows, args.seed)
        print(f"generated a synthetic {quarter.label} snapshot: {args.rows:,} rows in {time.perf_counter() - t:.1f}s -> {landing}")
    else:
        print(f"using the existing {quarter.label} snapshot in {landing}")
    with dg.DagsterInstance.get() as instance:
        try:
            recorded = run_quarter(quarter, instance)
        except QuarterRunFailed as exc:
            print(f"predict_age {quarter.label} stopped: {exc}", file=sys.stderr)
            return 1
    print(format_summary(recorded, catalog=layout.catalog))
    return 0


if __name__ == "__main__":
    sys.exit(main())
