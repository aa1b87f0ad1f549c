"""Labels, filters and zero-cost categories of the query log.

A day's delivery (read-only) is typed, each run labelled heavy by the configured thresholds
(CPU, peak memory, resource error; sql/heavy_queries/labelled.sql) and either kept or set aside
with one reason: missing_required, invalid_cost, duplicate_query_id, non_curated,
query_type_excluded. Every row set aside is written with its reason and counted, never dropped
silently. A missing column is a `ContractError` naming the file and the column.

Zero-cost categories are routed light without the model only once the data show them light: a
category is validated when the upper bound of the Wilson interval of its heavy rate is below the
limit (1%), so a category seen a handful of times is not trusted on its point rate of 0 (it is
then scored by the model, which is safe). It is too heavy, and the gate fails, when the lower
bound is at or above the limit: the rule itself is wrong (a costly statement in a cheap category).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from platform_assets.heavy_queries.logic.config import ModelConfig
from platform_assets.heavy_queries.logic.featurizer import zero_cost_category
from platform_core import duck, metrics
from platform_core.contract import ContractError, delivery_files
from platform_core.gates import GateResult
from platform_core.storage import Location, atomic_dir

JOB = "heavy_queries"
LOG_COLUMNS = ("query_id", "user", "source", "catalog", "schema", "query_type", "query", "create_time", "cpu_time_ms",
               "wall_time_ms", "peak_memory_bytes", "error_type", "curated")
FILTER_REASONS = ("missing_required", "invalid_cost", "duplicate_query_id", "non_curated", "query_type_excluded")


def _check_columns(files: list[Location]) -> None:
    for path in files:
        with path.open("rb") as handle:
            names = set(pq.read_schema(handle).names)
        missing = [c for c in LOG_COLUMNS if c not in names]
        if missing:
            raise ContractError(f"{path}: missing column(s) {', '.join(missing)} of the query log")


def label_log(files: list[Location], config: ModelConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, set aside) rows of the log files, labelled; set-aside rows carry `filter_reason`."""
    _check_columns(files)
    con = duck.connect()
    try:
        sources = "[" + ", ".join(duck.literal(f) for f in files) + "]"
        con.execute(f"CREATE VIEW raw_log AS SELECT * FROM read_parquet({sources}, union_by_name = true, "
                    "filename = true, file_row_number = true)")
        t = config.thresholds
        frame = pl.from_arrow(con.sql(duck.load_sql(JOB, "labelled"), params={
            "cpu_ms": t.cpu_ms, "peak_memory_bytes": t.peak_memory_bytes, "resource_errors": list(t.resource_errors),
            "curated_only": config.curated_only, "query_types": list(config.query_types),
        }).to_arrow_table())
    finally:
        con.close()
    frame = frame.with_columns(pl.Series("zero_cost_category", [
        zero_cost_category(sql or "", qt) for sql, qt in frame.select("query", "query_type").iter_rows()], dtype=pl.String))
    kept = frame.filter(pl.col("filter_reason").is_null()).drop("filter_reason")
    return kept, frame.filter(pl.col("filter_reason").is_not_null())


def label_figures(kept: pl.DataFrame, set_aside: pl.DataFrame) -> dict:
    """Counts for metadata: rows in and kept, rows set aside per reason, heavy per reason, heavy share."""
    reasons = dict(set_aside.group_by("filter_reason").len().iter_rows()) if len(set_aside) else {}
    heavy = dict(kept.filter(pl.col("heavy")).group_by("heavy_reason").len().iter_rows()) if len(kept) else {}
    return {
        "rows_in": len(kept) + len(set_aside), "rows_kept": len(kept),
        "set_aside": {reason: int(reasons.get(reason, 0)) for reason in FILTER_REASONS},
        "heavy": int(kept["heavy"].sum()) if len(kept) else 0,
        "heavy_by_reason": {reason: int(heavy.get(reason, 0)) for reason in ("cpu", "memory", "resource_error")},
        "heavy_share": round(float(kept["heavy"].mean()), 4) if len(kept) else 0.0,
        "zero_cost_rows": int(kept["zero_cost_category"].is_not_null().sum()) if len(kept) else 0,
    }


def build_labelled(landing_dir: Location, target_dir: Location, config: ModelConfig) -> dict:
    """One day's delivery -> `labelled.parquet` (kept rows) and `set_aside.parquet` (with reasons), atomically."""
    kept, set_aside = label_log(delivery_files(landing_dir), config)
    with atomic_dir(target_dir) as tmp:
        kept.write_parquet(tmp / "labelled.parquet")
        set_aside.write_parquet(tmp / "set_aside.parquet")
    return label_figures(kept, set_aside)


def wilson_interval(successes: int, rows: int, confidence_level: float = 0.95) -> tuple[float, float]:
    """One proportion's Wilson interval (well-behaved near 0 and 1, where the seed's rates live); (0, 1) with no rows."""
    if rows == 0:
        return 0.0, 1.0
    low, high = metrics.wilson_interval(np.array([successes]), np.array([rows]), confidence_level)
    return max(0.0, float(low[0])), min(1.0, float(high[0]))


def zero_cost_gate(labelled: pl.DataFrame, config: ModelConfig) -> GateResult:
    """Per configured category: validated (Wilson upper bound below `zero_cost_max_rate`), too_heavy
    (lower bound at or above it), insufficient_data (in between) or no_data. `metadata["validated"]`
    are the categories to route without the model; the gate fails when one is too heavy."""
    seen = labelled.filter(pl.col("zero_cost_category").is_not_null()).group_by("zero_cost_category").agg(
        pl.len().alias("rows"), pl.col("heavy").sum().alias("heavy"))
    counts = {row["zero_cost_category"]: row for row in seen.iter_rows(named=True)}
    report = []
    for category in config.zero_cost_categories:
        row = counts.get(category, {"rows": 0, "heavy": 0})
        low, high = wilson_interval(int(row["heavy"]), int(row["rows"]), config.confidence_level)
        limit = config.zero_cost_max_rate
        verdict = ("no_data" if row["rows"] == 0 else "validated" if high < limit else "too_heavy" if low >= limit
                   else "insufficient_data")
        report.append({"category": category, "rows": int(row["rows"]), "heavy": int(row["heavy"]),
                       "heavy_rate": round(row["heavy"] / row["rows"], 5) if row["rows"] else None,
                       "interval": [round(low, 5), round(high, 5)], "verdict": verdict})
    failed = [r["category"] for r in report if r["verdict"] == "too_heavy"]
    return GateResult("zero_cost_categories", not failed, {
        "max_heavy_rate": config.zero_cost_max_rate, "confidence_level": config.confidence_level,
        "judged_on": "Wilson interval: upper bound to route, lower bound to fail", "categories": report, "too_heavy": failed,
        "validated": [r["category"] for r in report if r["verdict"] == "validated"],
    })
