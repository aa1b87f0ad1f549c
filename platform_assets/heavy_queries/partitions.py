"""Daily partitions of the query log from its first day; a model partition is the last day of its
44-day window (30 train, 7 validation, 7 test)."""

import dagster as dg

HISTORY_START = "2025-09-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, end_offset=1)
