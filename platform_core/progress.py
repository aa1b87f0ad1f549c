"""Progress of a long step as lines for a log: what, how far, time spent and left, at most one line
every `every` seconds, so a ten-minute search is neither silent nor noisy. The log is any callable
taking a line (Dagster's `context.log.info` in the wiring); None keeps it quiet. Work may be
counted from the threads that do it, so counting takes a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Log = Callable[[str], None]


class Progress:
    """`what: pct% done (detail); elapsed, time left` for one step of `total` work, the first line
    after `every` seconds; the time left assumes the rest goes at the pace so far."""

    def __init__(self, log: Log | None, what: str = "", total: float = 0, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.log, self.every, self.clock = log, every, clock
        self.lock = threading.Lock()
        self.what, self.total, self.done, self.start = what, total, 0, clock()
        self.last: float | None = self.start  # when the last line was said (None: say the next at once)

    def stage(self, what: str, total: float) -> None:
        """Start counting a stage of `total` units."""
        with self.lock:
            self.what, self.total, self.done, self.start = what, total, 0, self.clock()
            self._maybe_say("")

    def advance(self, amount: float = 1, detail: str = "") -> None:
        """Count `amount` units of the current stage as done."""
        with self.lock:
            self.done += amount
            self._maybe_say(detail)

    def _maybe_say(self, detail: str) -> None:
        now = self.clock()
        if self.log is None or (self.last is not None and now - self.last < self.every):
            return
        self.last = now
        elapsed = now - self.start
        left = f", about {elapsed * (self.total - self.done) / self.done:.0f}s left" if self.done else ""
        self.log(f"{self.what}: {self._how_far(f'{100 * self.done / max(self.total, 1):.0f}%', detail)} "
                 f"{elapsed:.0f}s so far{left}")

    def _how_far(self, share: str, detail: str) -> str:
        return f"{share} done{' (' + detail + ')' if detail else ''};"


class StagedProgress(Progress):
    """Stages of counted `unit`s, each started by stage(): `what: done of total fits (pct%), elapsed,
    time left`; the first stage is said at once."""

    def __init__(self, log: Log | None, every: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 unit: str = "fits"):
        super().__init__(log, every=every, clock=clock)
        self.unit, self.last = unit, None

    def _how_far(self, share: str, detail: str) -> str:
        return f"{self.done:,} of {self.total:,} {self.unit} ({share}){', ' + detail if detail else ''},"
