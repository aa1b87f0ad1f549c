"""Pieces of every job's execution summary: the per-stage table and the checks line."""

from __future__ import annotations


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


def stage_row(name: str, records: list[dict]) -> str:
    seconds = sum(r.get("duration_s", 0) or 0 for r in records)
    rows_in = sum(r.get("rows_in", 0) or 0 for r in records) if any("rows_in" in r for r in records) else None
    rows_out = sum(r.get("rows_out", 0) or 0 for r in records) if any("rows_out" in r for r in records) else None
    rate = f"{rows_in / seconds:,.0f}" if rows_in and seconds else "-"
    label = f"{name} ({len(records)} batches)" if len(records) > 1 else name
    return f"  {label:<34} {seconds:>9.2f} {_n(rows_in):>13} {_n(rows_out):>13} {rate:>12}"


def stage_table(stages: dict[str, list[dict]], wall_s: float, runs: int) -> list[str]:
    return [f"  {'stage':<34} {'seconds':>9} {'rows in':>13} {'rows out':>13} {'rows/s':>12}",
            *(stage_row(name, records) for name, records in stages.items() if records),
            f"  {'end to end (wall, incl. Dagster runs)':<34} {wall_s:>9.2f}   {runs} runs"]


def check_line(checks: list[dict]) -> str:
    """"Checks: 15/16 passed; failed: ...; warnings: ..." (a failed non-blocking check is a warning)."""
    failed = [c["check"] for c in checks if not c["passed"] and not c.get("warning")]
    warned = [c["check"] for c in checks if not c["passed"] and c.get("warning")]
    return (f"Checks: {len(checks) - len(failed) - len(warned)}/{len(checks)} passed" + (f"; failed: {', '.join(failed)}" if failed else "")
            + (f"; warnings: {', '.join(warned)}" if warned else ""))
