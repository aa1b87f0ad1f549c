"""Three-way verdicts of a gate judged by an interval: a point estimate near a limit is not evidence
either way, so a gate says so instead of passing by default.

- pass: the interval lies entirely within the limit;
- fail: the interval lies entirely beyond it;
- inconclusive: the interval straddles it (more data would decide). Whether that blocks is the
  gate's `inconclusive` setting: `warn` (the default, DEFAULT_INCONCLUSIVE: a visible warning
  naming what is missing, nothing blocked) or `block`.

Many comparisons at once: a gate that fails when any of m comparisons fails, each judged at 95%,
would fail clean data up to 1 - 0.95^m of the time (about 1 in 3 for m = 8), more so when the pair
shown is the most extreme one, picked after looking. So each of a gate's m intervals is drawn at
1 - (1 - level) / m (Bonferroni): all m hold together with the stated level, and so does the
interval of their largest, whichever pair or group turns out to be the extreme one.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
Verdict = Literal["pass", "fail", "inconclusive"]
Inconclusive = Literal["warn", "block"]
DEFAULT_INCONCLUSIVE: Inconclusive = "warn"
SHOWN = {PASS: "pass", FAIL: "FAIL", INCONCLUSIVE: "inconclusive"}  # how summaries print a verdict


def verdict(low: float, high: float, limit: float) -> Verdict:
    """The verdict on a quantity that must not exceed `limit`, from its interval [low, high]."""
    return PASS if high <= limit else FAIL if low > limit else INCONCLUSIVE


def passes(outcome: Verdict, inconclusive: Inconclusive) -> bool:
    """Whether a verdict lets the gate pass: `pass`, or `inconclusive` when that only warns."""
    return outcome == PASS or (outcome == INCONCLUSIVE and inconclusive == "warn")


def worst(outcomes: list[Verdict]) -> Verdict:
    """fail over inconclusive over pass (pass when there is nothing to judge)."""
    return FAIL if FAIL in outcomes else INCONCLUSIVE if INCONCLUSIVE in outcomes else PASS


def per_comparison_level(confidence_level: float, comparisons: int = 1) -> float:
    """The level each of `comparisons` intervals is drawn at so that all hold together at `confidence_level`."""
    return 1 - (1 - confidence_level) / max(comparisons, 1)


def critical_value(confidence_level: float, comparisons: int = 1) -> float:
    """The two-sided normal quantile of one of `comparisons` simultaneous intervals (1.96 for one at 95%)."""
    return NormalDist().inv_cdf(0.5 + per_comparison_level(confidence_level, comparisons) / 2)


def rows_to_resolve(variance: float, limit: float, z: float, other_variance: float = 0.0,
                    other_rows: float = math.inf) -> int:
    """About how many rows a group needs for its interval, +-z * sqrt(variance / n + other_variance /
    other_rows) (variances per row; the second term is the group it is compared with, if any), to
    reach at most `limit` on either side, so that a difference of the limit's size can be told
    from none. When that would take more rows than the compared group has, both grow: the answer
    is then the rows each of the two needs."""
    room = (limit / z) ** 2
    if room > other_variance / other_rows:
        alone = max(1, math.ceil(variance / (room - other_variance / other_rows)))
        if alone <= other_rows:
            return alone
    return max(1, math.ceil((variance + other_variance) / room))
