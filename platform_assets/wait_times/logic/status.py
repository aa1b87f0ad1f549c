"""The live pipeline status the dashboard polls: one JSON file, rewritten atomically as entities
finish, with progress ("entity 45 of 200") and an ETA from the rows still to train."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from platform_assets.wait_times.logic.tables import JOB
from platform_core.storage import DataLayout, Location, read_json, write_json


def status_path(layout: DataLayout) -> Location:
    return layout.table_area(JOB, "training_status") / "status.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StatusWriter:
    """Counts outcomes and writes status.json. The ETA assumes the rows still queued train at the
    rate seen so far (rows, not entities: the largest entities go first, so a per-entity rate
    would overestimate the tail)."""

    def __init__(self, layout: DataLayout | None, partition: str, total: int, total_rows: int):
        self.path = status_path(layout) if layout is not None else None
        self.partition, self.total, self.total_rows = partition, total, total_rows
        self.started, self.started_at = time.perf_counter(), _now()
        self.done = self.rows_done = 0
        self.counts = {"trained": 0, "skipped": 0, "failed": 0, "degraded": 0}
        self.step, self.current_tier = "preparing", None

    def finished(self, status: str, rows: int, tier: int) -> dict:
        self.done += 1
        self.rows_done += rows
        self.counts[status] += 1
        self.current_tier = tier
        return self.write("training")

    def eta_seconds(self) -> float | None:
        if self.done == 0 or self.rows_done == 0:
            return None
        elapsed = time.perf_counter() - self.started
        return round(elapsed * max(self.total_rows - self.rows_done, 0) / self.rows_done, 1)

    def snapshot(self) -> dict:
        return {"partition": self.partition, "step": self.step, "done": self.done, "total": self.total,
                "current_tier": self.current_tier, "started_at": self.started_at, "updated_at": _now(),
                "eta_seconds": self.eta_seconds() if self.step == "training" else (0.0 if self.step == "done" else None),
                "elapsed_seconds": round(time.perf_counter() - self.started, 1), **self.counts}

    def write(self, step: str) -> dict:
        self.step = step
        payload = self.snapshot()
        if self.path is not None:
            write_json(self.path, payload)
        return payload


def set_step(layout: DataLayout, step: str, **fields) -> dict:
    """Move the recorded status to another step (forecasting, done, failed) keeping its counts."""
    path = status_path(layout)
    payload = read_json(path) if path.exists() else {}
    payload.update(fields, step=step, updated_at=_now())
    if step == "done":
        payload["eta_seconds"] = 0.0
    write_json(path, payload)
    return payload
