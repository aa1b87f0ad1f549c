"""Data freshness per park: a park open on the day whose latest observation is more than
`stale_hours` before its closing time (or that sent none) is stale."""

from __future__ import annotations

from datetime import date

from platform_assets.wait_times.logic.tables import JOB, current_files
from platform_core import duck
from platform_core.gates import GateResult
from platform_core.storage import DataLayout


def park_freshness(layout: DataLayout, day: date, stale_hours: float, threads: int | None = None) -> list[dict]:
    hours = current_files(layout, "dim_park_hours", first=day, last=day)
    facts = current_files(layout, "fact_observations", first=day, last=day)
    entities = current_files(layout, "dim_entity", first=day, last=day)
    if not hours or not entities:
        return []
    con = duck.connect(threads)
    try:
        duck.view(con, "hours", hours)
        duck.view(con, "entities", entities)
        duck.view(con, "facts", facts) if facts else con.execute(
            "CREATE VIEW facts AS SELECT ''::VARCHAR AS park, NULL::TIMESTAMP AS observed_at WHERE false")
        return duck.query(con, JOB, "park_freshness", {"stale_hours": stale_hours})
    finally:
        con.close()


def freshness_gate(rows: list[dict], stale_hours: float) -> GateResult:
    stale = [r["park"] for r in rows if r["stale"]]
    return GateResult("park_freshness", not stale, blocking=False, metadata={
        "stale_parks": stale, "parks_open": len(rows), "stale_hours": stale_hours,
        "latest": {r["park"]: str(r["latest_observation"]) for r in rows}})
