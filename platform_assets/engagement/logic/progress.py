"""Progress of a long step as lines for a log: what, how far, time spent and left, at most one
line every `every` seconds, so a ten-minute search is neither silent nor noisy. The log is any
callable taking a line (Dagster's `context.log.info` in the wiring); none means quiet."""

from __future__ import annotations

import time
from typing import Callable

Log = Callable[[str], None]


class Progress:
    def __init__(self, log: Log | None, what: str, total: float, every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.log, self.what, self.total, self.every, self.clock = log, what, total, every, clock
        self.done = 0.0
        self.start = self.last = clock()

    def advance(self, amount: float = 1.0, detail: str = "") -> None:
        """Count `amount` of the total work as done (the time left assumes the rest goes at the same
        pace); say so if `every` seconds passed since the last line."""
        self.done += amount
        now = self.clock()
        if self.log is None or now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed * (self.total - self.done) / self.done if self.done else float("nan")
        self.log(f"{self.what}: {100 * self.done / self.total:.0f}% done{' (' + detail + ')' if detail else ''}; "
                 f"{elapsed:.0f}s so far, about {left:.0f}s left")
