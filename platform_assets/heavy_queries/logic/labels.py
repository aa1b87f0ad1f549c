"""Labels, filters and zero-cost categories of the query log.

A day's delivery (read-only) is typed, each run labelled heavy by the configured thresholds
(CPU, peak memory, resource error; sql/heavy_queries/labelled.sql) and either kept or set aside
with one reason: missing_required, outside_delivered_day (created on another day than the one
delivered), invalid_cost, duplicate_query_id, non_curated, query_type_excluded. Every row set
aside is written with its reason and counted, never dropped silently. The first four are defects
of the delivery: `usable_rows_gate` blocks a window in which a day lost more than
`max_defect_share` of its rows to them. A file that is not Parquet or lacks a column is a
`ContractError` naming the file (and the column).

Zero-cost categories are routed light without the model. A statement that reads no table data
(SHOW, DESCRIBE, EXPLAIN without ANALYZE, SET, USE, a SELECT without FROM: `by_definition`) is
routed unless the data show it heavy; a catalog lookup (information_schema, system) reads tables
that can be large, so it is routed only once the data show it light. Judged on the Wilson
interval of a category's heavy rate against the limit (1%): validated when the upper bound is
below it; too heavy, and the gate fails, when the lower bound is at or above it (the rule itself
is wrong: a costly statement in a cheap category); in between, or unseen, the data cannot tell:
a by-definition category is routed then, a catalog lookup is left to the model (which is safe).
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
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
DEFECT_REASONS = ("missing_required", "outside_delivered_day", "invalid_cost", "duplicate_query_id")
FILTER_REASONS = DEFECT_REASONS + ("non_curated", "query_type_excluded")
ORDER = "ORDER BY create_time, query_id"  # a day's rows as they ran: the window and the replay read them in this order
REDELIVER = "the delivered folder is read-only to the platform: ask the producer to deliver the day again"


def _check_columns(files: list[Location]) -> bool:
    """Every file is Parquet with the log's columns; True when a file's query column is bytes."""
    binary = False
    for path in files:
        try:
            with path.open("rb") as handle:
                schema = pq.read_schema(handle)
                names = set(schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ContractError(f"{path}: not a readable Parquet file ({str(exc).strip().splitlines()[0]}); {REDELIVER} "
                                "with this file rewritten") from None
        missing = [c for c in LOG_COLUMNS if c not in names]
        if missing:
            raise ContractError(f"{path}: missing column(s) {', '.join(missing)} of the query log; {REDELIVER} with "
                                "every column of the log")
        binary = binary or pa.types.is_binary(schema.field("query").type) or pa.types.is_large_binary(schema.field("query").type)
    return binary


def _labelled_table(con: duckdb.DuckDBPyConnection, files: list[Location], config: ModelConfig, day: date | None) -> None:
    """View `labelled` on `con`: the log files typed and labelled (sql/heavy_queries/labelled.sql), each
    row with `filter_reason` (NULL: kept) and `zero_cost_category`, judged once per distinct text and type.
    The rows stay in DuckDB (memory-capped, spilling), so a day of any size passes through."""
    # bytes are read as UTF-8 (CAST would escape every newline as \x0A); bytes that are not UTF-8 keep CAST's escapes
    text = "* REPLACE (coalesce(try(decode(query)), CAST(query AS VARCHAR)) AS query)" if _check_columns(files) else "*"
    try:
        sources = "[" + ", ".join(duck.literal(f) for f in files) + "]"
        con.execute(f"CREATE VIEW raw_log AS SELECT {text} FROM read_parquet({sources}, union_by_name = true, "
                    "filename = true, file_row_number = true)")
        t = config.thresholds
        con.execute("CREATE TEMP TABLE labelled_rows AS " + duck.load_sql(JOB, "labelled"), {
            "cpu_ms": t.cpu_ms, "peak_memory_bytes": t.peak_memory_bytes, "resource_errors": list(t.resource_errors),
            "curated_only": config.curated_only, "query_types": list(config.query_types), "day": day,
        })
        categories = {"query": [], "query_type": [], "zero_cost_category": []}
        reader = con.sql("SELECT DISTINCT query, query_type FROM labelled_rows").to_arrow_reader(20_000)
        for batch in reader:
            for sql, query_type in zip(batch.column("query").to_pylist(), batch.column("query_type").to_pylist()):
                if (category := zero_cost_category(sql or "", query_type)) is not None:
                    for name, value in zip(categories, (sql, query_type, category)):
                        categories[name].append(value)
        con.register("zero_cost", pa.table(categories, schema=pa.schema(
            [("query", pa.string()), ("query_type", pa.string()), ("zero_cost_category", pa.string())])))
        con.execute("CREATE TEMP VIEW labelled AS SELECT l.*, z.zero_cost_category FROM labelled_rows l LEFT JOIN zero_cost z "
                    "ON l.query = z.query AND l.query_type IS NOT DISTINCT FROM z.query_type")
    except duckdb.Error as exc:
        raise ContractError(f"{', '.join(str(f) for f in files)}: the query log could not be read "
                            f"({str(exc).strip().splitlines()[0]}); {REDELIVER} with readable files") from None


def label_log(files: list[Location], config: ModelConfig, day: date | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, set aside) rows of the log files, labelled, in memory; set-aside rows carry `filter_reason`.
    With `day` (the delivered day), rows created on another day are set aside."""
    con = duck.connect()
    try:
        _labelled_table(con, files, config, day)
        frame = pl.from_arrow(con.sql(f"SELECT * FROM labelled {ORDER}").to_arrow_table())
    finally:
        con.close()
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


def build_labelled(landing_dir: Location, target_dir: Location, config: ModelConfig, day: date | None = None) -> dict:
    """One day's delivery -> `labelled.parquet` (kept rows) and `set_aside.parquet` (with reasons), atomically,
    written by DuckDB without the day passing through Python."""
    con = duck.connect()
    try:
        _labelled_table(con, delivery_files(landing_dir), config, day)
        with atomic_dir(target_dir) as tmp:
            duck.copy_to_parquet(con, f"SELECT * EXCLUDE (filter_reason) FROM labelled WHERE filter_reason IS NULL {ORDER}", None,
                                 tmp / "labelled.parquet", row_group_size=20_000)
            duck.copy_to_parquet(con, f"SELECT * FROM labelled WHERE filter_reason IS NOT NULL {ORDER}", None, tmp / "set_aside.parquet")
        slim = pl.from_arrow(con.sql("SELECT filter_reason, heavy, heavy_reason, zero_cost_category FROM labelled")
                             .to_arrow_table())
    finally:
        con.close()
    return label_figures(slim.filter(pl.col("filter_reason").is_null()), slim.filter(pl.col("filter_reason").is_not_null()))


def usable_rows_gate(days: pl.DataFrame, max_share: float) -> GateResult:
    """Per day of `days` (day, rows_in, and a count per DEFECT_REASONS column): the share of its rows the
    delivery's defects set aside. The gate fails when a day's share exceeds `max_share`; its first line
    names the day, the largest reason, its count and rate."""
    judged = days.with_columns(pl.sum_horizontal(DEFECT_REASONS).alias("defects")).with_columns(
        (pl.col("defects") / pl.max_horizontal("rows_in", 1)).alias("share"))
    worst = judged.sort("share", descending=True).head(1).to_dicts()
    over = judged.filter(pl.col("share") > max_share).sort("day")
    failed = ""
    for row in over.head(3).iter_rows(named=True):
        reason = max(DEFECT_REASONS, key=lambda r: row[r])
        failed += (f"{'; ' if failed else ''}{row['day']} {reason}: {row[reason]:,} of {row['rows_in']:,} rows "
                   f"({100 * row[reason] / max(row['rows_in'], 1):.1f}%) set aside, defects {100 * row['share']:.1f}% "
                   f"> {100 * max_share:.1f}%")
    metadata = {"failed": failed, "days_over": over.height} if over.height else {}
    return GateResult("usable_rows", not over.height, {
        **metadata, "max_defect_share": max_share, "days": judged.height,
        "worst_day": str(worst[0]["day"]) if worst else None, "worst_share": round(worst[0]["share"], 5) if worst else 0.0,
        "defects": {r: int(judged[r].sum()) for r in DEFECT_REASONS}, "rows_in": int(judged["rows_in"].sum())})


def wilson_interval(successes: int, rows: int, confidence_level: float = 0.95) -> tuple[float, float]:
    """One proportion's Wilson interval (well-behaved near 0 and 1, where the seed's rates live); (0, 1) with no rows."""
    if rows == 0:
        return 0.0, 1.0
    low, high = metrics.wilson_interval(np.array([successes]), np.array([rows]), confidence_level)
    return max(0.0, float(low[0])), min(1.0, float(high[0]))


def zero_cost_gate(labelled: pl.DataFrame, config: ModelConfig) -> GateResult:
    """Per configured category (rows of `labelled`, each counting `n` times when it has that column):
    validated (Wilson upper bound below `zero_cost_max_rate`), too_heavy (lower bound at or above it),
    insufficient_data (in between) or no_data. `metadata["routed"]` are the categories to route without
    the model: the validated ones and, unless too heavy, those in `zero_cost_by_definition`; the gate
    fails when one is too heavy."""
    weighted = "n" in labelled.columns
    seen = labelled.filter(pl.col("zero_cost_category").is_not_null()).group_by("zero_cost_category").agg(
        (pl.col("n").sum() if weighted else pl.len()).alias("rows"),
        (pl.col("n") * pl.col("heavy") if weighted else pl.col("heavy")).sum().alias("heavy"))
    counts = {row["zero_cost_category"]: row for row in seen.iter_rows(named=True)}
    report = []
    for category in config.zero_cost_categories:
        row = counts.get(category, {"rows": 0, "heavy": 0})
        low, high = wilson_interval(int(row["heavy"]), int(row["rows"]), config.confidence_level)
        limit = config.zero_cost_max_rate
        verdict = ("no_data" if row["rows"] == 0 else "validated" if high < limit else "too_heavy" if low >= limit
                   else "insufficient_data")
        by_definition = category in config.zero_cost_by_definition
        report.append({"category": category, "rows": int(row["rows"]), "heavy": int(row["heavy"]),
                       "heavy_rate": round(row["heavy"] / row["rows"], 5) if row["rows"] else None,
                       "interval": [round(low, 5), round(high, 5)], "verdict": verdict, "by_definition": by_definition,
                       "routed": verdict == "validated" or (by_definition and verdict != "too_heavy")})
    failed = [r["category"] for r in report if r["verdict"] == "too_heavy"]
    return GateResult("zero_cost_categories", not failed, {
        "max_heavy_rate": config.zero_cost_max_rate, "confidence_level": config.confidence_level,
        "judged_on": "Wilson interval: upper bound to route (a statement reading no table data is routed unless the "
                     "lower bound reaches the limit), lower bound to fail", "categories": report, "too_heavy": failed,
        "validated": [r["category"] for r in report if r["verdict"] == "validated"],
        "routed": [r["category"] for r in report if r["routed"]],
    })
