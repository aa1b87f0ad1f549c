"""Progress of long steps as lines for a log, at most one every `every_s` seconds. The steps
call a plain callable and never import dagster; the wiring passes `context.log.info` through a
`Throttle`, so a 20-minute training run says how far it is and when it should end."""

from __future__ import annotations

import time
from collections.abc import Callable


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    return f"{seconds // 3600}h {seconds // 60 % 60:02d}m" if seconds >= 3600 else (
        f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s")


def progress_line(what: str, done: int, total: int, elapsed_s: float, unit: str = "entities", detail: str = "",
                  eta_s: float | None = None) -> str:
    """`what: done of total unit (pct%)[, detail]; elapsed, ETA` (the ETA from the rate so far unless given)."""
    if eta_s is None and done:
        eta_s = elapsed_s * (total - done) / done
    share = f" ({100 * done / total:.0f}%)" if total else ""
    return (f"{what}: {done:,} of {total:,} {unit}{share}{', ' + detail if detail else ''}; "
            f"{duration(elapsed_s)} elapsed, ETA {duration(eta_s) if done < total else '0s'}")


def training_line(snapshot: dict) -> str:
    """A line from the training status snapshot (logic/status.py: done, total, counts, ETA by rows)."""
    counts = ", ".join(f"{snapshot[k]:,} {k}" for k in ("trained", "degraded", "skipped", "failed") if snapshot.get(k))
    return progress_line("training", snapshot["done"], snapshot["total"], snapshot["elapsed_seconds"],
                         detail=counts, eta_s=snapshot.get("eta_seconds"))


class Throttle:
    """Forwards a line to `log` when `every_s` seconds have passed since the last one forwarded
    (the first always goes, and so does one marked `last`)."""

    def __init__(self, log: Callable[[str], None], every_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.log, self.every_s, self.clock = log, every_s, clock
        self.sent_at: float | None = None

    def __call__(self, line: str, last: bool = False) -> bool:
        now = self.clock()
        if not last and self.sent_at is not None and now - self.sent_at < self.every_s:
            return False
        self.sent_at = now
        self.log(line)
        return True
