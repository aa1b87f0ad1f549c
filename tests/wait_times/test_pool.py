"""The pool survives a worker process that dies: the entity that killed it is recorded as failed,
the others that were in flight are retried, and every task gets exactly one result."""

from __future__ import annotations

import os

from platform_assets.wait_times.logic.training import EntityTask, TrainSettings, run_pool

CRASHING = 3


def _light_worker(task: EntityTask) -> dict:
    if task.entity_id in task.settings.crash_entities:
        os._exit(70)
    return {"entity_id": task.entity_id, "tier": task.tier, "status": "trained"}


def test_a_dying_worker_fails_only_its_own_entity():
    settings = TrainSettings(crash_entities=(CRASHING,))
    tasks = [EntityTask(e, "MK", 1 + e // 4, 100 - e, "test", None, "", "2025-06-08", settings) for e in range(8)]
    seen = []
    results = run_pool(tasks, 2, seen.append, worker=_light_worker, initializer=None)
    assert [r["entity_id"] for r in results] == list(range(8))  # one result per task, in task order
    assert sorted(r["entity_id"] for r in seen) == list(range(8))
    failed = [r for r in results if r["status"] == "failed"]
    assert [r["entity_id"] for r in failed] == [CRASHING] and "worker process died" in failed[0]["error"]
