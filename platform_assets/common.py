"""Wiring helpers every job folder uses: keys prefixed by job, check specs and results matched by
name, timing, standard metadata, the guarded automation condition, container tags, and the retry
of transient failures that definitions.py applies to every step."""

from __future__ import annotations

import base64
import functools
import inspect
import json
import time
import warnings
from contextlib import contextmanager
from datetime import timedelta

import dagster as dg

from platform_core.gates import GateResult
from platform_core.reports import Markdown
from platform_core.transient import is_transient

# Beta and preview APIs used on purpose (DAGSTER_NOTES.md, DAGSTER_NOTES_2.md): `backfill_policy`
# on prediction_batches, `MultiToSingleDimensionPartitionMapping`, source code references, and
# partitioned check specs (without them a failed check would block every partition). Every
# wiring module imports this one first, so their warnings never bury real output.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

CATALOG_POOL = "duckdb_catalog"
OWNERS = ["team:ml-platform"]
AC = dg.AutomationCondition

# `make run` tags its in-process runs with the process that ran them (platform_assets/run.py). A
# partition's `make run` materializes everything that partition needs, and the history it fills
# (years of gold months under a model) is input, not a request to score every month of it: so its
# updates start nothing downstream. Deliveries (runless) and runs from automation or the UI do.
MAKE_RUN_TAG = "platform/pid"
DEPS_UPDATED = AC.any_deps_match(
    (AC.newly_updated() & ~AC.executed_with_root_target() & ~AC.all_new_updates_have_run_tags(tag_keys={MAKE_RUN_TAG}))
    | AC.will_be_requested()
).with_label("any_deps_updated (not by make run)")

# What runs after what, declared once on the assets. eager() alone looks only at the latest
# time window and has no failure or check guards (DAGSTER_NOTES_2 §2); this one:
#  - fires for any partition whose dependencies were updated (past quarters too), except by `make run`,
#  - waits while a dependency failed its last run or failed a blocking check,
#  - waits while a dependency is itself stale (its own dependencies updated after it), so a
#    publish never reads a batch older than the model that should have produced it.
GUARDED_EAGER = (
    AC.eager().without(AC.in_latest_time_window()).replace("any_deps_updated", DEPS_UPDATED)
    & ~AC.any_deps_match(AC.execution_failed())
    & AC.all_deps_blocking_checks_passed()
    & ~AC.any_deps_match(AC.any_deps_updated().since(AC.newly_updated()))
).with_label("eager, guarded by failed runs, blocking checks and stale dependencies")


def asset_key(job: str, name: str) -> dg.AssetKey:
    return dg.AssetKey([job, name])


def check_specs(key: dg.AssetKey, described: dict[str, str], partitions_def: dg.PartitionsDefinition,
                blocking: bool = True, warn_only: tuple[str, ...] = ()) -> list[dg.AssetCheckSpec]:
    """Check specs of an asset from {name: description}; names are what results match on. The
    checks are partitioned like the asset, so a failure in one partition blocks that partition's
    downstream only (an unpartitioned check has one status for all: DAGSTER_NOTES_2 §2). Checks
    named in `warn_only` never block (their gates decide something else, e.g. promotion)."""
    return [dg.AssetCheckSpec(name, asset=key, blocking=blocking and name not in warn_only, description=text,
                              partitions_def=partitions_def) for name, text in described.items()]


def check_results(specs: list[dg.AssetCheckSpec], gates: list[GateResult]) -> list[dg.AssetCheckResult]:
    """One result per spec, matched by name; a spec without a gate, or a gate without a spec,
    is a programming error and raises."""
    by_name = {g.name: g for g in gates}
    names = {s.name for s in specs}
    if set(by_name) != names:
        raise ValueError(f"gates {sorted(by_name)} do not match check specs {sorted(names)}")
    return [dg.AssetCheckResult(
        check_name=s.name, asset_key=s.asset_key, passed=bool(by_name[s.name].passed),
        severity=dg.AssetCheckSeverity.ERROR if by_name[s.name].blocking else dg.AssetCheckSeverity.WARN,
        metadata={k: md(v) if isinstance(v, Markdown) else v for k, v in by_name[s.name].metadata.items()},
    ) for s in specs]


def latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None) -> dict | None:
    """Metadata values of an asset partition's (or an unpartitioned asset's) latest materialization
    (None if never materialized)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1).records
    return {k: _plain_value(v) for k, v in records[0].asset_materialization.metadata.items()} if records else None


def _plain_value(value: dg.MetadataValue):
    """A metadata value as plain data: tables as lists of dicts."""
    return [r.data for r in value.records] if isinstance(value, dg.TableMetadataValue) else value.value


@contextmanager
def timed(metadata: dict):
    start = time.perf_counter()
    yield
    metadata["duration_s"] = round(time.perf_counter() - start, 3)


def stage_metadata(partition: str, rows_in: int, rows_out: int, duration: float, **extra) -> dict:
    """Figures every stage reports; `dagster/row_count` is the standard key the UI shows."""
    return {"partition": partition, "dagster/row_count": int(rows_out), "rows_in": int(rows_in), "rows_out": int(rows_out),
            "duration_s": duration, "rows_per_s": round(rows_in / duration) if duration else None, **extra}


def md(text: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(text)


def png_markdown(plots: dict) -> str:
    """Plots ({caption: PNG file, local or on the object store}) as markdown images with data URIs,
    so the materialization shows them in the UI wherever the run wrote them."""
    return "\n\n".join(f"![{caption}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
                       for caption, path in plots.items())


def column_schema(columns: dict[str, str], descriptions: dict[str, str] | None = None,
                  unique: tuple[str, ...] = ()) -> dg.TableSchema:
    """`dagster/column_schema` from a {column: type} mapping (a contract or an output schema)."""
    descriptions = descriptions or {}
    return dg.TableSchema(columns=[
        dg.TableColumn(name, kind, description=descriptions.get(name),
                       constraints=dg.TableColumnConstraints(nullable=name not in unique, unique=name in unique))
        for name, kind in columns.items()])


def table_preview(rows: list[dict]) -> dg.MetadataValue:
    """A small table the UI renders as a table (MetadataValue.table)."""
    if not rows:
        return dg.MetadataValue.text("(no rows)")
    columns = list(rows[0])
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: _plain(r.get(c)) for c in columns}) for r in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, _kind(rows[0].get(c))) for c in columns]))


def _plain(value):
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _kind(value) -> str:
    return {bool: "bool", int: "int", float: "float"}.get(type(value), "string")


def container_tags(vcpu: int, memory_gib: int, max_runtime_s: int) -> dict[str, str]:
    """Run tags read by the ECS and Kubernetes run launchers and by run monitoring (deploy/)."""
    resources = {"cpu": str(vcpu), "memory": f"{memory_gib}Gi"}
    return {
        "ecs/cpu": str(vcpu * 1024),
        "ecs/memory": str(memory_gib * 1024),
        "dagster-k8s/config": json.dumps({"container_config": {"resources": {"requests": resources, "limits": resources}}}),
        "dagster/max_runtime": str(max_runtime_s),
    }


def freshness(days: int) -> dg.FreshnessPolicy:
    """A published table older than its job's cadence plus slack shows as degraded in the UI."""
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(days=days))


# A step that fails on a transient error (a dropped connection, a timeout, an object store or
# database briefly unreachable: platform_core.transient) runs again up to 3 times, about 5, 15 and
# 35 s later (exponential backoff, +-5 s of jitter so steps that failed together do not retry
# together). Any other failure (a bad delivery, a contract violation, a bug) fails at once, as
# before: Dagster's RetryPolicy alone would retry every exception.
STEP_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
# Run retries (`run_retries` in the instance files) re-run a crashed run, and a run with a failed
# step only where this tag says "true": set when a step is still failing transiently after its own
# retries (the service is down for longer), "false" when a step failed for another reason.
RUN_RETRY_TAG = "dagster/retry_on_asset_or_op_failure"


def with_step_retries(defs: dg.Definitions, policy: dg.RetryPolicy = STEP_RETRY) -> dg.Definitions:
    """`defs` with every asset's step retrying transient failures under `policy`."""
    assets = [_retrying(a, policy) if isinstance(a, dg.AssetsDefinition) and a.is_executable else a
              for a in defs.assets or []]
    return dg.Definitions(assets=assets, asset_checks=defs.asset_checks, jobs=defs.jobs, sensors=defs.sensors,
                          schedules=defs.schedules, resources=defs.resources, executor=defs.executor,
                          loggers=defs.loggers, metadata=defs.metadata)


def _retrying(assets_def: dg.AssetsDefinition, policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    """The same asset (keys, specs, checks, resources, parameters) with its function wrapped.
    Dagster has no public setter for an existing asset's op, so the op is rebuilt the way its
    own `with_replaced_properties` does; `_retrying` keeps the function's signature, which
    Dagster reads for the context, config and resource parameters."""
    op = assets_def.node_def
    fn = op.compute_fn.decorated_fn

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                _on_failure(error, policy)
                raise
    else:
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as error:
                _on_failure(error, policy)
                raise

    retrying_op = dg.OpDefinition(
        compute_fn=op.compute_fn._replace(decorated_fn=wrapped), name=op.name,
        ins={d.name: dg.In.from_definition(d) for d in op.input_defs},
        outs={d.name: dg.Out.from_definition(d) for d in op.output_defs},
        description=op.description, config_schema=op.config_schema, required_resource_keys=op.required_resource_keys,
        tags=op.tags, retry_policy=op.retry_policy, pool=op.pool)  # code versions ride on the outs and specs
    return dg.AssetsDefinition.dagster_internal_init(**{**assets_def.get_attributes_dict(), "node_def": retrying_op})


def _on_failure(error: Exception, policy: dg.RetryPolicy) -> None:
    """Ask Dagster for another attempt of a transiently failing step (raises RetryRequested);
    otherwise mark the run for run retries and let the error through."""
    context = dg.OpExecutionContext.get()
    transient = is_transient(error)
    if transient and context.retry_number < policy.max_retries:
        context.log.warning(f"transient failure ({type(error).__name__}: {error}); attempt {context.retry_number + 2} "
                            f"of {policy.max_retries + 1} follows")
        raise dg.RetryRequested(max_retries=policy.max_retries,
                                seconds_to_wait=max(0.0, policy.calculate_delay(context.retry_number + 1))) from error
    run = context.instance.get_run_by_id(context.run_id)
    # `make run`'s in-process runs have no origin the daemon could re-launch them from; and a
    # permanent failure of another step in this run stays decisive.
    if not transient or (run.remote_job_origin is not None and run.tags.get(RUN_RETRY_TAG) != "false"):
        context.instance.add_run_tags(context.run_id, {RUN_RETRY_TAG: str(transient).lower()})
