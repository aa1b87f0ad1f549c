"""What a job folder hands the platform: its definitions and what `make run JOB=<job>` needs.

Adding a job is a folder under platform_assets/ whose `definitions` module exports
`job = PlatformJob(name=<the folder's name>, ...)`; definitions.py discovers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import dagster as dg

from platform_core.storage import DataLayout


@dataclass(frozen=True)
class PlatformJob:
    name: str
    defs: dg.Definitions  # assets, checks, sensors, schedules, jobs; resources are bound once, in definitions.py
    config_key: str  # resource key of the job's settings
    config: Callable[[], dg.ConfigurableResource]  # the settings from the environment (local defaults)
    landing: dg.AssetSpec  # the external asset deliveries are recorded on
    run_selection: dg.AssetSelection  # what `make run` materializes for one partition
    default_partition: str  # a label as a person types it (`2025q3`, `2025-07`)
    partition_key: Callable[[str], str]  # label -> partition key; raises ValueError naming the problem
    landing_path: Callable[[DataLayout, str], object]  # partition key -> its delivery folder
    generate: Callable[[DataLayout, str, int, int], str]  # (layout, key, rows, seed) -> what was written
    default_rows: int
    summary: Callable[[dict, DataLayout], str]  # what `make run` prints from the recorded run
    # Assets whose earlier partitions the requested one needs (a model trained on years of months, a daily
    # fact table): `make run` first fills their missing partitions from `history_start`, one range run each.
    # (rows, available bytes) -> one paragraph refusing a size whose measured peak memory cannot fit
    # (platform_core/memory.py), or None; `make run` asks before it generates or runs anything
    memory_refusal: Callable[[int, int], str | None] | None = None
    history: dg.AssetSelection = dg.AssetSelection.assets()
    history_start: str | None = None
