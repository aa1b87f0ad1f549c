"""Monthly partitions: keys `2025-07-01`, labels `2025-07` in paths, views and logs."""

import dagster as dg

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date="2025-01-01", end_offset=1)
