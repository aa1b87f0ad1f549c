"""What the Dagster instance recorded of the wait_times runs: whether the latest one is running,
succeeded or failed, and why it failed (a blocking check that did not pass, or a step's error).

status.json says how far training got; only the instance knows that a run stopped, for instance
after `critical_entities_have_model` failed and blocked the forecasts. dagster is imported here
only, when the dashboard is given an instance, so the rest of the dashboard starts without it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "wait_times__"  # the op (step) names of the job's assets
RECENT_RUNS = 50  # the newest runs of the instance among which the latest wait_times run is looked for
FAILED, RUNNING, SUCCEEDED = "failed", "running", "succeeded"


@dataclass(frozen=True)
class RunOutcome:
    """The latest wait_times run: its partition (or range), the assets it ran, its state, when it
    ended and, when it failed, why."""

    run_id: str
    partition: str | None
    assets: tuple[str, ...]
    state: str
    ended_at: datetime | None
    reason: str | None = None


class RunLog:
    """Read-only view of the wait_times runs on the instance in `dagster_home`."""

    def __init__(self, dagster_home: Path):
        import dagster as dg

        self._dg = dg
        self._instance = dg.DagsterInstance.from_config(str(dagster_home))
        self._lock = threading.Lock()  # the web server asks from several threads
        self._reasons: dict[str, str] = {}  # a finished run's failure never changes

    def latest(self) -> RunOutcome | None:
        """The newest run that ran a wait_times asset, or None."""
        dg = self._dg
        with self._lock:
            for record in self._instance.get_run_records(limit=RECENT_RUNS):
                run = record.dagster_run
                steps = sorted(s for s in run.step_keys_to_execute or [] if s.startswith(PREFIX))
                if not steps:
                    continue
                ended = datetime.fromtimestamp(record.end_time, UTC) if record.end_time else None
                assets = tuple(s.removeprefix(PREFIX) for s in steps)
                if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                    if run.run_id not in self._reasons:
                        self._reasons[run.run_id] = self._failure(run.run_id)
                    return RunOutcome(run.run_id, _partition(run.tags), assets, FAILED, ended, self._reasons[run.run_id])
                state = SUCCEEDED if run.status == dg.DagsterRunStatus.SUCCESS else RUNNING
                return RunOutcome(run.run_id, _partition(run.tags), assets, state, ended)
        return None

    def _failure(self, run_id: str) -> str:
        """A failed blocking check in its own words (its `problem`, else its figures); otherwise the
        failed steps' errors; otherwise the run's own failure message."""
        from platform_assets.run import user_error

        dg = self._dg
        types = {dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        checks, steps, run = [], [], []
        for record in self._instance.get_records_for_run(run_id, of_type=types, limit=1000).records:
            entry = record.event_log_entry
            event, data = entry.dagster_event, entry.dagster_event.event_specific_data
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                    where = data.asset_key.to_user_string()
                    checks.append(f"check {data.check_name} on {where} failed: {_figures(data.metadata)}")
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE and data.error is not None:
                steps.append(f"{event.step_key.removeprefix(PREFIX)}: {user_error(data.error)}")
            else:
                run.append(entry.user_message)
        return "; ".join(checks or steps or run) or "the run failed (its log on the instance says why)"


def _partition(tags: dict[str, str]) -> str | None:
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start}..{end}" if start and end else None


def _figures(metadata: dict) -> str:
    """A check's message: its `problem` text when it wrote one, else its small values as k=v."""
    values = {name: entry.value for name, entry in metadata.items()}
    if isinstance(values.get("problem"), str):
        return values["problem"]
    return ", ".join(f"{name}={value}" for name, value in values.items()
                     if isinstance(value, (int, float, str, bool)) or isinstance(value, list) and len(value) <= 10)
