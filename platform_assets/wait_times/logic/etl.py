"""ETL of daily deliveries: validate, quarantine, deduplicate, and write the fact table, the
dimensions, the published schedule and the 15-minute posted aggregates, one partition per day.

One code path serves one day and a range of days: the range (the initial history, a backfill) is
read and classified in one DuckDB pass and split into daily partitions in one partitioned write,
so a 730-day backfill is one call instead of 730. Every check is per delivery day (duplicates,
unknown entities, the quarantine rate), so a range writes exactly what day-by-day runs write.

What a delivery may hold is its contract (logic/contract.py): every file is read, or the
delivery is refused. Fatal problems (no delivery, an incomplete one, a file no table reads, an
unreadable file, a missing column or a wrong type, an unknown park, an entity id that is not
32-bit, hours that close before they open) raise `ContractError` naming the file, column and
value. Row problems are quarantined per column and reason with their source file and row,
never dropped silently.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl

from platform_assets.wait_times.logic.contract import RANGES, delivery_files
from platform_assets.wait_times.logic.tables import ETL_TABLES, JOB, partition_dir
from platform_assets.wait_times.logic.world import TIERS
from platform_core import duck
from platform_core.contract import ContractError
from platform_core.gates import GateResult
from platform_core.storage import DataLayout, atomic_dir, scratch_dir

Delivered = dict[str, list[tuple[date, Path]]]
DUPLICATE = "duplicate"  # the reason sql/wait_times/observations_classified.sql gives a later copy


def delivered_files(layout: DataLayout, days: list[date]) -> tuple[Delivered, bool]:
    """Every file of each day's delivery by table, checked against the contract (raises
    ContractError); and whether any observations file has actual_wait."""
    files: Delivered = {}
    has_actual = False
    for day in days:
        for table, found in delivery_files(layout.landing(JOB, day.isoformat())).items():
            files.setdefault(table, []).extend((day, path) for path, _ in found)
            has_actual |= table == "observations" and any("actual_wait" in schema.names for _, schema in found)
    return files, has_actual


def _open(con, files: Delivered, has_actual: bool) -> None:
    """Views raw_<table> over every delivered file, each row tagged with its delivery day, file and row."""
    for name, entries in files.items():
        deliveries = pl.DataFrame({"file": [str(p) for _, p in entries], "delivery_day": [d for d, _ in entries]})
        con.register(f"deliveries_{name}", deliveries)
        file_list = "[" + ", ".join(duck.literal(p) for _, p in entries) + "]"
        extra = ", CAST(NULL AS INTEGER) AS actual_wait" if name == "observations" and not has_actual else ""
        con.execute(f"CREATE VIEW raw_{name} AS SELECT r.* EXCLUDE (filename, file_row_number){extra}, d.delivery_day, "
                    f"r.filename AS source_file, r.file_row_number AS source_row "
                    f"FROM read_parquet({file_list}, union_by_name = true, filename = true, file_row_number = true) r "
                    f"JOIN deliveries_{name} d ON d.file = r.filename")
    con.register("park_tiers", pl.DataFrame({"park": list(TIERS), "tier": list(TIERS.values())}))


def _check_fatal(con) -> None:
    problems = duck.query(con, JOB, "delivery_problems")
    if problems:
        first = problems[0]
        raise ContractError(f"{first['source_file']}: column {first['column_name']} value {first['value']!r}: "
                            f"{first['problem']} ({len(problems)} problem(s) in all, first shown); the day's delivery is "
                            "refused: correct it at the source and deliver the day again")


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


def process_days(layout: DataLayout, days: list[date], threads: int | None = None,
                 on_progress: Callable[[str], None] | None = None) -> dict:
    """ETL of the deliveries of `days` (one or many) into their daily partitions of every ETL table.
    Returns figures: rows in, kept, quarantined by reason and by column, rows in and invalid rows
    (quarantined other than as duplicates) per day (`by_day`), rows per table, seconds. `on_progress` gets a line as each step ends."""
    started = time.perf_counter()
    say = on_progress or (lambda _line: None)
    days = sorted(set(days))
    files, has_actual = delivered_files(layout, days)
    con = duck.connect(threads)
    try:
        _open(con, files, has_actual)
        _check_fatal(con)
        con.execute("CREATE TABLE classified AS " + duck.load_sql(JOB, "observations_classified"), {
            "min_wait": RANGES["posted_wait"][0], "max_wait": RANGES["posted_wait"][1]})
        counts = duck.query(con, JOB, "quarantine_counts")
        say(f"ETL: {len(days):,} day(s), {sum(r['rows'] for r in counts):,} observations classified in "
            f"{time.perf_counter() - started:.0f}s; writing {len(ETL_TABLES)} tables")
        written = {}
        with tempfile.TemporaryDirectory(dir=scratch_dir()) as staging:
            for k, table in enumerate(ETL_TABLES, 1):
                per_day = _write_partitions(con, table, duck.load_sql(JOB, table), days, Path(staging), layout)
                written[table] = sum(per_day.values())
                say(f"ETL: wrote {table} ({k} of {len(ETL_TABLES)} tables, {written[table]:,} rows), "
                    f"{time.perf_counter() - started:.0f}s elapsed")
    finally:
        con.close()
    by_reason: dict[str, int] = {}
    by_column: dict[str, int] = {}
    by_day: dict[str, list[int]] = {}  # day -> [rows in, invalid]
    for row in counts:
        n, day = int(row["rows"]), row["day"].isoformat()
        totals = by_day.setdefault(day, [0, 0])
        totals[0] += n
        if row["reason"] == "kept":
            continue
        totals[1] += n if row["reason"] != DUPLICATE else 0
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + n
        label = f"{row['column_name']} {row['reason']}"
        by_column[label] = by_column.get(label, 0) + n
    rows_in = sum(t[0] for t in by_day.values())
    return {"days": len(days), "first": days[0].isoformat(), "last": days[-1].isoformat(),
            "rows_in": rows_in, "rows_out": rows_in - sum(by_reason.values()), "quarantine": dict(sorted(by_reason.items())),
            "quarantine_by_column": dict(sorted(by_column.items(), key=lambda kv: -kv[1])), "by_day": by_day,
            "problems": [{**r, "day": r["day"].isoformat()} for r in counts if r["reason"] != "kept"],
            "files": sum(len(v) for v in files.values()), "tables": written,
            "seconds": round(time.perf_counter() - started, 2)}


def process_day(layout: DataLayout, day: date, threads: int | None = None) -> dict:
    """ETL of one day's delivery (the daily asset)."""
    return process_days(layout, [day], threads)


def quarantine_gate(figures: dict, limit: float) -> GateResult:
    """Blocking: no delivered day's share of invalid observations above `limit`. Duplicates are set
    aside but not judged (the fact table loses nothing by them; they are counted in the metadata).
    A failure names the days, and for the worst one the columns and reasons with their counts and rates."""
    rates = {day: q / n for day, (n, q) in figures["by_day"].items() if n}
    over = sorted((d for d, r in rates.items() if r > limit), key=lambda d: -rates[d])
    invalid = sum(q for _, q in figures["by_day"].values())
    metadata = {"invalid": invalid, "rate": round(invalid / max(figures["rows_in"], 1), 6), "limit": limit,
                "days_over_limit": len(over), "duplicates_set_aside": figures["quarantine"].get(DUPLICATE, 0),
                "by_column": figures["quarantine_by_column"]}
    if over:
        worst = over[0]
        n = figures["by_day"][worst][0]
        causes = sorted((p for p in figures["problems"] if p["day"] == worst and p["reason"] != DUPLICATE),
                        key=lambda p: -p["rows"])
        metadata["refused"] = (f"{len(over)} day(s) over the limit of {limit:.2%} ({', '.join(over[:10])}); worst {worst}: "
                               f"{rates[worst]:.2%} of {n:,} observations invalid, "
                               + ", ".join(f"{p['column_name']} {p['reason']} {p['rows']:,} ({p['rows'] / n:.2%})"
                                           for p in causes[:5]))
    return GateResult("quarantine_rate", not over, metadata)
