"""ETL of daily deliveries: validate, quarantine, deduplicate, and write the fact table, the
dimensions, the published schedule and the 15-minute posted aggregates, one partition per day.

One code path serves one day and a range of days: the range (the initial history, a backfill) is
read and classified in one DuckDB pass and split into daily partitions in one partitioned write,
so a 730-day backfill is one call instead of 730. Every check is per delivery day (duplicates,
unknown entities), so a range writes exactly what day-by-day runs write.

Fatal problems (no delivery, an incomplete one, a missing column or a wrong type, an unknown park,
hours that close before they open) raise `ContractError` naming the file, column and value. Row
problems are quarantined per reason with their source file and row, never dropped silently.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from platform_assets.wait_times.logic.tables import ETL_TABLES, JOB, partition_dir
from platform_assets.wait_times.logic.world import TIERS
from platform_core import duck
from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, DataLayout, atomic_dir, scratch_dir

MAX_WAIT = 600  # minutes; a posted or actual wait above it is implausible

# Per delivered file: required columns and the Arrow type family each must have.
_FAMILY = {"integer": pa.types.is_integer, "timestamp": pa.types.is_timestamp, "date": pa.types.is_date,
           "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)}
CONTRACT: dict[str, dict[str, str]] = {
    "observations": {"entity_id": "integer", "observed_at": "timestamp", "posted_wait": "integer"},
    "entities": {"entity_id": "integer", "entity_name": "string", "park": "string", "opened_on": "date"},
    "park_hours": {"park": "string", "date": "date", "opens_at": "timestamp", "closes_at": "timestamp"},
    "events": {"park": "string", "date": "date", "event": "string"},
}
OPTIONAL = {"observations": {"actual_wait": "integer"}}


def delivered_files(layout: DataLayout, days: list[date]) -> dict[str, list[tuple[date, Path]]]:
    """Each delivery's four files, checked against the contract (raises ContractError)."""
    files: dict[str, list[tuple[date, Path]]] = {name: [] for name in CONTRACT}
    for day in days:
        folder = layout.landing(JOB, day.isoformat())
        if not (folder / SUCCESS_MARKER).exists():
            raise ContractError(f"{folder}: no complete delivery for {day} (missing folder or {SUCCESS_MARKER} marker)")
        for name, columns in CONTRACT.items():
            path = folder / f"{name}.parquet"
            if not path.exists():
                raise ContractError(f"{path}: missing file {name}.parquet")
            schema = pq.read_schema(path)
            for column, family in {**columns, **OPTIONAL.get(name, {})}.items():
                if column not in schema.names:
                    if column in columns:
                        raise ContractError(f"{path}: missing required column {column}")
                    continue
                kind = schema.field(column).type
                if not _FAMILY[family](kind):
                    raise ContractError(f"{path}: column {column} must be {family}, found {kind}")
            files[name].append((day, path))
    return files


def _open(con, files: dict[str, list[tuple[date, Path]]]) -> None:
    """Views raw_<file> over every delivery, each row tagged with its delivery day, file and row."""
    for name, entries in files.items():
        deliveries = pl.DataFrame({"file": [str(p) for _, p in entries], "delivery_day": [d for d, _ in entries]})
        con.register(f"deliveries_{name}", deliveries)
        file_list = "[" + ", ".join(duck.literal(p) for _, p in entries) + "]"
        extra = ", CAST(NULL AS INTEGER) AS actual_wait" if name == "observations" and not _has_actual(entries) else ""
        con.execute(f"CREATE VIEW raw_{name} AS SELECT r.* EXCLUDE (filename, file_row_number){extra}, d.delivery_day, "
                    f"r.filename AS source_file, r.file_row_number AS source_row "
                    f"FROM read_parquet({file_list}, union_by_name = true, filename = true, file_row_number = true) r "
                    f"JOIN deliveries_{name} d ON d.file = r.filename")
    con.register("park_tiers", pl.DataFrame({"park": list(TIERS), "tier": list(TIERS.values())}))


def _has_actual(entries: list[tuple[date, Path]]) -> bool:
    return any("actual_wait" in pq.read_schema(p).names for _, p in entries)


def _check_fatal(con) -> None:
    problems = duck.query(con, JOB, "delivery_problems")
    if problems:
        first = problems[0]
        raise ContractError(f"{first['source_file']}: column {first['column_name']} value {first['value']!r}: "
                            f"{first['problem']} ({len(problems)} problem(s) in all, first shown)")


def _write_partitions(con, table: str, sql: str, days: list[date], staging: Path, layout: DataLayout) -> dict[date, int]:
    """Write `sql` (with a `day` column, not stored) as one partition per day; a day without rows
    gets an empty file with the table's columns. Returns rows per day."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW out_{table} AS {sql}")
    target = staging / table
    con.execute(f"COPY (SELECT * FROM out_{table}) TO {duck.literal(target)} "
                "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), OVERWRITE_OR_IGNORE true)")
    counts = dict(con.execute(f"SELECT day, count(*) FROM out_{table} GROUP BY day").fetchall())
    for day in days:
        with atomic_dir(partition_dir(layout, table, day)) as tmp:
            source = target / f"day={day.isoformat()}"
            if source.exists():
                for i, part in enumerate(sorted(source.glob("*.parquet"))):
                    shutil.move(str(part), tmp / f"part-{i:05d}.parquet")
            else:
                duck.copy_to_parquet(con, f"SELECT * EXCLUDE (day) FROM out_{table} WHERE false", None, tmp / "part-00000.parquet")
    return {day: int(counts.get(day, 0)) for day in days}


def process_days(layout: DataLayout, days: list[date], threads: int | None = None, max_wait: int = MAX_WAIT) -> dict:
    """ETL of the deliveries of `days` (one or many) into their daily partitions of every ETL table.
    Returns figures: rows in, kept, quarantined by reason, rows per table, seconds."""
    started = time.perf_counter()
    days = sorted(set(days))
    files = delivered_files(layout, days)
    con = duck.connect(threads)
    try:
        _open(con, files)
        _check_fatal(con)
        con.execute("CREATE TABLE classified AS " + duck.load_sql(JOB, "observations_classified"), {"max_wait": max_wait})
        counts = duck.query(con, JOB, "quarantine_counts")
        written = {}
        with tempfile.TemporaryDirectory(dir=scratch_dir()) as staging:
            for table in ETL_TABLES:
                per_day = _write_partitions(con, table, duck.load_sql(JOB, table), days, Path(staging), layout)
                written[table] = sum(per_day.values())
    finally:
        con.close()
    by_reason: dict[str, int] = {}
    for row in counts:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + int(row["rows"])
    kept = by_reason.pop("kept", 0)
    return {"days": len(days), "first": days[0].isoformat(), "last": days[-1].isoformat(),
            "rows_in": kept + sum(by_reason.values()), "rows_out": kept, "quarantine": dict(sorted(by_reason.items())),
            "tables": written, "seconds": round(time.perf_counter() - started, 2)}


def process_day(layout: DataLayout, day: date, threads: int | None = None, max_wait: int = MAX_WAIT) -> dict:
    """ETL of one day's delivery (the daily asset)."""
    return process_days(layout, [day], threads, max_wait)
