"""`make run JOB=<job>`: one partition of a job end to end through Dagster, then its summary.

The run order is not written here: it comes from the asset graph. The job's run selection is
cut into stages, where an asset joins the stage of its latest dependency unless its partitions
definition differs (then it starts the next stage); stage by stage, each asset runs in process
on the configured instance (DAGSTER_HOME) for every partition that maps to the requested one
(predict_age: five quarterly assets, 8 batches, three publishing assets), one run each, so a
line is printed as each finishes. A job's history assets (years of monthly gold tables under a
model) first get their missing partitions since the job's `history_start`, one range run per
contiguous stretch; an unpartitioned asset (a model over configured windows) runs once. A run that fails, or fails a blocking check, stops the job
with one clean paragraph; the trace stays in the run's log. The summary is read back
from the instance's records, so it shows what Dagster recorded.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import socket
import sys
import time
from collections import defaultdict

import dagster as dg
import psutil

from platform_assets.common import MAKE_RUN_TAG, latest_metadata
from platform_assets.job import PlatformJob
from platform_assets.sensors import landing_events
from platform_core.storage import DataLayout

LOG_LEVEL = os.getenv("PLATFORM_LOG_LEVEL", "CRITICAL")  # our own lines report progress; traces stay in the run log


class JobRunFailed(RuntimeError):
    pass


@dg.logger(description="Prints what the job's own code logs (progress of long steps, warnings), not Dagster's events")
def job_lines_logger(init_context) -> logging.Logger:
    class JobLines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            meta = getattr(record, "dagster_meta", None) or {}
            if meta.get("dagster_event") is None:
                print(f"    {meta.get('orig_message', record.getMessage())}", flush=True)

    log = logging.getLogger("platform_job_lines")
    log.handlers, log.propagate = [JobLines()], False
    log.setLevel(logging.INFO)
    return log


def owner_tags() -> dict[str, str]:
    """Which process runs a run in process: a later `make run` can tell a run whose process is gone."""
    me = psutil.Process()
    return {"platform/host": socket.gethostname(), MAKE_RUN_TAG: str(me.pid), "platform/pid_started": f"{me.create_time():.2f}"}


def _process_gone(tags: dict[str, str]) -> bool:
    try:
        return f"{psutil.Process(int(tags[MAKE_RUN_TAG])).create_time():.2f}" != tags.get("platform/pid_started")
    except (psutil.NoSuchProcess, ValueError):
        return True


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the in-process runs of this host still recorded as started whose process is gone
    (killed with SIGKILL, the machine lost power) and free the pool slots they held, so the next run
    does not wait forever on a slot nobody will release. Runs launched by the daemon are its run
    monitoring's business."""
    active = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING],
        tags={"platform/host": socket.gethostname()}))
    released = []
    for run in active:
        if MAKE_RUN_TAG in run.tags and _process_gone(run.tags):
            instance.report_run_failed(run, message=f"the process that ran it (pid {run.tags[MAKE_RUN_TAG]}) is gone; "
                                       "marked failed by the next `make run`")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            released.append(run.run_id)
    return released


def stages(defs: dg.Definitions, selection: dg.AssetSelection) -> list[list[dg.AssetKey]]:
    """The selection's assets in runs: a new run wherever the partitions definition changes."""
    graph = defs.resolve_asset_graph()
    keys = selection.resolve(graph)
    stage_of: dict[dg.AssetKey, tuple[int, int]] = {}  # (stage, depth within the selection)

    def stage(key: dg.AssetKey) -> tuple[int, int]:
        if key not in stage_of:
            node = graph.get(key)
            parents = [p for p in node.parent_keys if p in keys]
            stage_of[key] = (max((stage(p)[0] + (graph.get(p).partitions_def != node.partitions_def) for p in parents), default=0),
                             max((stage(p)[1] + 1 for p in parents), default=0))
        return stage_of[key]

    grouped: dict[int, list[dg.AssetKey]] = defaultdict(list)
    for key in sorted(keys, key=lambda k: (stage(k)[1], k.to_user_string())):
        grouped[stage(key)[0]].append(key)
    return [grouped[i] for i in sorted(grouped)]


def partition_keys(partitions_def: dg.PartitionsDefinition, key: str) -> list[str]:
    """The partitions of an asset that belong to the requested partition: the key itself, or
    every multi-partition key that has it as one dimension (quarter x batch)."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return [str(k) for k in partitions_def.get_partition_keys() if key in k.keys_by_dimension.values()]
    return [key]


def user_error(error) -> str:
    """The first error below Dagster's own wrappers: the one our code raised, whose message
    names the file, column or value (its own causes, e.g. pyarrow's, would not)."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    lines = [line.strip() for line in error.message.strip().splitlines()
             if line.strip() and not re.fullmatch(r"\^+|LINE \d+:.*", line.strip())]  # SQL echo and caret lines
    text = re.sub(rf"^([\w.]+\.)?{error.cls_name}: ", "", " ".join(lines))
    return f"{error.cls_name}: {text}"


Span = tuple[str, str] | None  # the partitions one run materializes: first and last key, or None (unpartitioned)


def spans(job: PlatformJob, key: dg.AssetKey, in_history: bool, partitions_def: dg.PartitionsDefinition | None,
          partition: str, instance: dg.DagsterInstance) -> list[Span]:
    """The runs an asset needs for the requested partition: one per partition that maps to it;
    for the job's history assets, first every missing partition since `history_start`, in
    contiguous ranges (one run each), then the requested one."""
    if partitions_def is None:
        return [None]
    if not in_history:
        return [(k, k) for k in partition_keys(partitions_def, partition)]
    keys = partitions_def.get_partition_keys()
    done = instance.get_materialized_partitions(key)
    todo = {k for k in history_keys(job, partitions_def, partition) if k not in done} | {partition}
    ranges: list[Span] = []
    for i, k in enumerate(keys):
        if k in todo:
            ranges.append((ranges.pop()[0], k) if ranges and i and keys[i - 1] in todo else (k, k))
    return ranges


def history_keys(job: PlatformJob, partitions_def: dg.PartitionsDefinition, partition: str) -> list[str]:
    keys = partitions_def.get_partition_keys()
    return keys[keys.index(job.history_start):keys.index(partition) + 1] if job.history_start else [partition]


def _span_label(span: Span) -> str:
    return "" if span is None else f" [{span[0]}]" if span[0] == span[1] else f" [{span[0]}..{span[1]}]"


def execute(job_def: dg.JobDefinition, keys: list[dg.AssetKey], span: Span, instance: dg.DagsterInstance,
            run_config: dict | None = None):
    """One in-process run of `keys` for a span; JobRunFailed names the failed step or blocking check."""
    where = ({} if span is None else {"partition_key": span[0]} if span[0] == span[1] else
             {"tags": {"dagster/asset_partition_range_start": span[0], "dagster/asset_partition_range_end": span[1]}})
    where["tags"] = {**where.get("tags", {}), **owner_tags()}
    subset = job_def.get_subset(asset_selection=set(keys)).with_logger_defs({**dg.default_loggers(), "job_lines": job_lines_logger})
    result = subset.execute_in_process(
        instance=instance, raise_on_error=False, **where,
        run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": LOG_LEVEL}}, "job_lines": {}}})
    failed_checks = [e for e in result.get_asset_check_evaluations()
                     if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    if not result.success or failed_checks:
        errors = [f"{ev.step_key}: {user_error(ev.event_specific_data.error)}" for ev in result.all_events if ev.is_step_failure
                  and not (failed_checks and ev.event_specific_data.error.cls_name == "DagsterAssetCheckFailedError")]
        checks = [f"check {e.asset_key.to_user_string()}.{e.check_name} failed: "
                  + ", ".join(f"{k}={v.value}" for k, v in e.metadata.items()
                              if isinstance(v.value, (int, float, str, bool)) and not isinstance(v, dg.MarkdownMetadataValue)
                              or isinstance(v.value, list) and len(v.value) <= 10)
                  for e in failed_checks]
        raise JobRunFailed(f"run {result.run_id}{_span_label(span)} stopped:\n  " + "\n  ".join(errors + checks)
                           + f"\nThe full trace is in the run's log: `make dev`, Runs, {result.run_id}.")
    return result


def run_partition(job: PlatformJob, partition: str, instance: dg.DagsterInstance, defs: dg.Definitions,
                  progress=print) -> dict:
    """Materialize the job's run selection for one partition, one run per asset and partition in
    the graph's order, printing a line as each finishes; return what the instance recorded."""
    started, graph, runs = time.perf_counter(), defs.resolve_asset_graph(), []
    job_def = defs.resolve_implicit_global_asset_job_def()
    history = job.history.resolve(graph)
    recorded: dict[dg.AssetKey, list[str | None]] = {}
    for keys in stages(defs, job.run_selection):
        for key in keys:
            if key in recorded:
                continue
            together = sorted(dg.AssetSelection.assets(key).required_multi_asset_neighbors().resolve(graph))  # one op
            partitions_def = graph.get(key).partitions_def
            for span in spans(job, key, key in history, partitions_def, partition, instance):
                t = time.perf_counter()
                runs.append(execute(job_def, together, span, instance).run_id)
                last = span and span[1]
                progress(_progress_line(together, span, latest_metadata(instance, key, last) or {}, time.perf_counter() - t))
                for k in together:
                    recorded.setdefault(k, []).append(last)
    return {
        "job": job.name,
        "partition": partition,
        "wall_s": round(time.perf_counter() - started, 2),
        "runs": runs,
        "stages": {k.path[-1]: [m for m in (latest_metadata(instance, k, p) for p in ps) if m is not None]
                   for k, ps in recorded.items()},
        "checks": _check_results(instance, runs),
    }


def _progress_line(keys: list[dg.AssetKey], span: Span, metadata: dict, wall_s: float) -> str:
    rows = (f"{metadata['rows_in']:,} -> {metadata['rows_out']:,} rows, " if "rows_out" in metadata
            else f"{metadata['rows_in']:,} rows, " if "rows_in" in metadata else "")
    return f"  {' + '.join(k.path[-1] for k in keys)}{_span_label(span)}: {rows}{metadata.get('duration_s', 0):.1f}s in the stage, {wall_s:.1f}s with its run"


def _check_results(instance: dg.DagsterInstance, runs: list[str]) -> list[dict]:
    checks = []
    for run_id in runs:
        for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
            ev = record.event_log_entry.dagster_event.event_specific_data
            checks.append({"check": f"{ev.asset_key.path[-1]}.{ev.check_name}", "passed": ev.passed,
                           "warning": ev.severity == dg.AssetCheckSeverity.WARN})
    return checks


def record_delivery(job: PlatformJob, layout: DataLayout, partition: str, instance: dg.DagsterInstance) -> None:
    """Record the partition's delivery (and its history's) on the job's landing asset, as its sensor
    would (lineage starts there; the other folders of the landing area are not this run's business)."""
    area = job.landing_path(layout, partition).parent
    events, _ = landing_events(area, job.partition_key, lambda key: job.landing_path(layout, key).name, job.landing.key,
                               set(history_keys(job, job.landing.partitions_def, partition)), cursor=None, instance=instance)
    for event in events:
        instance.report_runless_asset_event(event)


def main(argv: list[str] | None = None) -> int:
    from platform_assets.definitions import JOBS, defs

    by_name = {j.name: j for j in JOBS}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", default="predict_age")
    parser.add_argument("--partition", help="the partition as a person writes it, e.g. 2025q3 (default: the job's)")
    parser.add_argument("--rows", type=int, help="size of the synthetic world generated when the partition has no delivery")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--generate-only", action="store_true", help="write the synthetic world and stop")
    args = parser.parse_args(argv)
    if args.job not in by_name:
        close = difflib.get_close_matches(args.job, by_name, n=1)
        print(f"no job named {args.job!r}{f'; did you mean JOB={close[0]}?' if close else '.'} The jobs are "
              f"{', '.join(sorted(by_name))}: type e.g. `make run JOB={close[0] if close else 'engagement'}`.", file=sys.stderr)
        return 2
    job = by_name[args.job]
    label = args.partition or job.default_partition
    try:
        partition = job.partition_key(label)
    except ValueError as exc:
        print(f"{job.name}: PARTITION={label!r} is not one of the job's partitions ({str(exc).rstrip('.')}); "
              f"type it as the job's default is written, e.g. PARTITION={job.default_partition}", file=sys.stderr)
        return 2
    valid = job.landing.partitions_def.get_partition_keys()
    if partition not in valid:
        print(f"{job.name}: partition {label} ({partition}) is outside the job's partitions, {valid[0]} to {valid[-1]}; "
              "pick one in that range (the first is set by the partitions definition)", file=sys.stderr)
        return 2
    layout = DataLayout.at(os.getenv("PLATFORM_DATA_DIR", "data"))
    landing = job.landing_path(layout, partition)
    if landing.exists():
        print(f"using the delivery in {landing} (read-only; delete it or pick another partition to generate one)")
        if args.generate_only:
            return 1
    else:
        rows = args.rows or job.default_rows
        if job.memory_refusal and (reason := job.memory_refusal(rows, psutil.virtual_memory().available)):
            print(reason, file=sys.stderr)
            return 2
        t = time.perf_counter()
        print(f"{job.generate(layout, partition, rows, args.seed)} in {time.perf_counter() - t:.1f}s")
    if args.generate_only:
        return 0
    with dg.DagsterInstance.get() as instance:
        for run_id in release_dead_runs(instance):
            print(f"run {run_id} was left started by a process that is gone (killed?): marked failed, its pool slots freed")
        record_delivery(job, layout, partition, instance)
        try:
            recorded = run_partition(job, partition, instance, defs)
        except JobRunFailed as exc:
            print(f"{job.name} {label} stopped: {exc}", file=sys.stderr)
            return 1
    print(job.summary(recorded, layout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
