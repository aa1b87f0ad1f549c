"""Daily partitions from the synthetic world's first day of history (2023-09-01).

The ~1,700 entities are not partitions: daily x entity would be 620,000 partitions a year and
one run per entity pays a process start each (README, "wait_times: entities"). One daily run
trains every due entity in a process pool; run config picks one entity, one tier or all."""

import dagster as dg

HISTORY_START = "2023-09-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, end_offset=1)
