"""Partitions: quarterly time windows (keys `2025-07-01`, labels `2025q3`) and quarter x batch."""

from __future__ import annotations

import os
import re

import dagster as dg

import platform_assets.common  # noqa: F401  (filters Dagster's beta warnings before they are raised)

QUARTERLY_START = os.getenv("PLATFORM_FIRST_QUARTER_KEY", "2024-01-01")
DAILY_START = os.getenv("PLATFORM_FIRST_DAY", "2025-01-01")
PREDICT_AGE_BATCHES = int(os.getenv("PREDICT_AGE_BATCHES", "8"))
_BATCH = re.compile(r"^\d{3,5}$")


def batch_key(index: int) -> str:
    return f"{index:03d}"


def parse_batch(key: str) -> int:
    if not _BATCH.match(str(key)):
        raise ValueError(f"invalid batch key {key!r}: expected digits like '007'")
    return int(key)


quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 */3 *", fmt="%Y-%m-%d", start=QUARTERLY_START, end_offset=1
)
batch_partitions = dg.StaticPartitionsDefinition([batch_key(i) for i in range(PREDICT_AGE_BATCHES)])
quarter_batch_partitions = dg.MultiPartitionsDefinition({"quarter": quarterly_partitions, "batch": batch_partitions})
by_quarter = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="quarter")
daily_partitions = dg.DailyPartitionsDefinition(start_date=DAILY_START, end_offset=1)
