"""Monthly partitions from the first encounter month (1999-01): keys `2008-03-01`, labels `2008-03`."""

import dagster as dg

HISTORY_START = "1999-01-01"
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=HISTORY_START, end_offset=1)
