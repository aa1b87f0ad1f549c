"""The synthetic world delivered the way the wait-time feed delivers: one landing folder per day
holding that day's observations, the entity list, and the park hours and events published for
that day and the week ahead (`_SUCCESS` last). The world's parameters are kept with the truth,
where only evaluation reads them. A folder that already exists is never written: a delivery is
the user's, read-only to the platform."""

from __future__ import annotations

import time
from datetime import date, timedelta

from platform_assets.wait_times.logic.world import World, WorldParams
from platform_core.storage import SUCCESS_MARKER, DataLayout, write_once_dir

JOB = "wait_times"
FILES = ("observations", "entities", "park_hours", "events")


def save_world(layout: DataLayout, params: WorldParams) -> World:
    """Record the world's parameters with the truth (refuses to replace a different world)."""
    target = layout.truth(JOB, "world")
    if (target / "world.json").exists():
        existing = WorldParams.from_json((target / "world.json").read_text())
        if existing != params:
            raise FileExistsError(f"{target}: a different world is recorded there ({existing}); clean the data directory first")
        return World(existing)
    with write_once_dir(target, last="world.json") as tmp:
        (tmp / "world.json").write_text(params.to_json() + "\n")
    return World(params)


def load_world(layout: DataLayout) -> World:
    """The world the truth folder records: `true_expected_wait` for evaluation."""
    return World(WorldParams.from_json((layout.truth(JOB, "world") / "world.json").read_text()))


def deliver_day(layout: DataLayout, world: World, day: date) -> dict:
    """Write one day's landing folder; refuse a day already delivered."""
    target = layout.landing(JOB, day.isoformat())
    if target.exists():
        raise FileExistsError(f"{target}: already delivered; a landing folder is never rewritten")
    tables = world.day(day)
    with write_once_dir(target, last=SUCCESS_MARKER) as tmp:
        for name in FILES:
            tables[name].write_parquet(tmp / f"{name}.parquet")
        (tmp / SUCCESS_MARKER).write_text(f"observations={len(tables['observations'])}\n")
    return {"day": day.isoformat(), "observations": len(tables["observations"]), "entities": len(tables["entities"])}


def deliver_history(layout: DataLayout, params: WorldParams, first: date | None = None, last: date | None = None) -> dict:
    """Deliver every day of the world's history (or `first`..`last`) that is not delivered yet;
    returns how many days were written, the first and last of them, and their observations."""
    world = save_world(layout, params)
    first, last = first or world.start, last or world.history_end
    started, rows, written = time.perf_counter(), 0, []
    day = first
    while day <= last:
        if not layout.landing(JOB, day.isoformat()).exists():
            rows += deliver_day(layout, world, day)["observations"]
            written.append(day)
        day += timedelta(days=1)
    return {"days": len(written), "first": written[0].isoformat() if written else None,
            "last": written[-1].isoformat() if written else None, "observations": rows,
            "seconds": round(time.perf_counter() - started, 2)}
