"""How much memory a heavy_queries run needs, said before it starts instead of being killed part-way.

Every stage reads and writes a day and a batch at a time, so the peak grows with the queries a day,
not with the number of days. What does grow with a day: the day generated in Python (`make run`'s
synthetic log), DuckDB labelling it, and the history rows (user, source, fingerprint, costs; no
text) of the 14 days before the day being featurized. The training sample is capped
(`max_sample_rows`), so training adds a bounded amount. The figures are measured peaks of
`make run` on this project's machine (BENCHMARKS.md, "heavy_queries at volume"): per stage, the
generation grew by 5.3 KB, labelling by 4.5 KB and featurization by 4.1 KB per query a day between
50,000 and 200,000 a day, and training stayed near 2 GiB; the estimate adds the terms, so it
errs high.
"""

from __future__ import annotations

from platform_core import memory

GIB = memory.GIB
BASE_BYTES = 1.0 * GIB  # the run's process with Dagster, DuckDB, polars, XGBoost and onnxruntime loaded
PER_DAILY_QUERY_BYTES = 6_000  # each query a day: the day in Python while generated (the largest), DuckDB's day, history
PER_SAMPLE_ROW_BYTES = 20_000  # each training row: its 845 float32 features and XGBoost's copies during 5-fold CV


def estimate_bytes(rows_per_day: int, max_sample_rows: int) -> int:
    """The peak resident memory of `make run JOB=heavy_queries ROWS=<rows_per_day>` (44 days)."""
    return int(BASE_BYTES + PER_DAILY_QUERY_BYTES * rows_per_day + PER_SAMPLE_ROW_BYTES * max_sample_rows)


def refusal(rows_per_day: int, max_sample_rows: int, available_bytes: int) -> str | None:
    """One paragraph saying why a size does not fit in `available_bytes`, or None when it does."""
    return memory.refusal("heavy_queries", rows_per_day, lambda rows: estimate_bytes(rows, max_sample_rows), available_bytes,
                          f"a day of the log generated and labelled, and the history rows of 14 days, grow with the "
                          f"queries a day; the training sample is capped at {max_sample_rows:,} rows")
