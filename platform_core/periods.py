"""Period labels as people write them (`2025q3`, `2025-07`, `2025-08-15`) and the partition keys
Dagster uses for them (`2025-07-01`).

Every identifier that reaches a path or a SQL view name passes through here, so a label
like `2025q3; DROP VIEW x` or `../../etc` is refused before it can go anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_LABEL = re.compile(r"^(\d{4})q([1-4])$")
_KEY = re.compile(r"^(\d{4})-(01|04|07|10)-01$")


@dataclass(frozen=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        """Accept a label (`2025q3`, `2025Q3`) or a partition key (`2025-07-01`)."""
        cleaned = str(text).strip().lower()
        if m := _LABEL.match(cleaned):
            return cls(int(m.group(1)), int(m.group(2)))
        if m := _KEY.match(cleaned):
            return cls(int(m.group(1)), (int(m.group(2)) - 1) // 3 + 1)
        raise ValueError(
            f"invalid quarter {text!r}: expected a label like '2025q3' or a partition key like '2025-07-01'"
        )

    @property
    def label(self) -> str:
        return f"{self.year}q{self.q}"

    @property
    def partition_key(self) -> str:
        return self.start.isoformat()

    @property
    def start(self) -> date:
        """The quarter's reference date: ages from birth years are computed against it."""
        return date(self.year, 3 * (self.q - 1) + 1, 1)

    @classmethod
    def containing(cls, day: date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)

    def __str__(self) -> str:
        return self.label


def parse_day(text: str) -> date:
    """A daily partition key, `YYYY-MM-DD` only."""
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(text)):
        raise ValueError(f"invalid day {text!r}: expected YYYY-MM-DD")
    return date.fromisoformat(text)


def parse_month(text: str) -> date:
    """A month as `YYYY-MM` or its partition key `YYYY-MM-01`; returns the month's first day."""
    m = re.match(r"^(\d{4})-(\d{2})(?:-01)?$", str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"invalid month {text!r}: expected a label like '2025-07' or a partition key like '2025-07-01'")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"
