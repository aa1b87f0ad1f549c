"""Progress of a long step as log lines: what, how far, time spent and left, at most one line every
`every` seconds, so a five-minute search is neither silent nor noisy. The log is any callable
taking a line (Dagster's `context.log.info` in the wiring); None keeps it quiet. Work is counted
from the threads that do it, so counting takes a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Log = Callable[[str], None]


class Progress:
    def __init__(self, log: Log | None, every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.log, self.every, self.clock = log, every, clock
        self.lock = threading.Lock()
        self.last: float | None = None  # when the last line was said; the first is said at once
        self.what, self.total, self.done, self.start = "", 0, 0, clock()

    def stage(self, what: str, total: int) -> None:
        """Start counting a stage of `total` units (its time left is the pace so far times what remains)."""
        with self.lock:
            self.what, self.total, self.done, self.start = what, total, 0, self.clock()
            self._maybe_say()

    def advance(self, amount: int = 1) -> None:
        """Count `amount` units of the current stage as done."""
        with self.lock:
            self.done += amount
            self._maybe_say()

    def _maybe_say(self) -> None:
        now = self.clock()
        if self.log is None or (self.last is not None and now - self.last < self.every):
            return
        self.last = now
        elapsed = now - self.start
        left = f", about {elapsed * (self.total - self.done) / self.done:.0f}s left" if self.done else ""
        self.log(f"{self.what}: {self.done:,} of {self.total:,} fits ({100 * self.done / max(self.total, 1):.0f}%), "
                 f"{elapsed:.0f}s so far{left}")
