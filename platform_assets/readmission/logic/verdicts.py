"""Three-way verdicts of a gate judged by an interval: a point estimate near a limit is not evidence
either way, so a gate says so instead of passing by default.

- pass: the interval lies entirely within the limit;
- fail: the interval lies entirely beyond it;
- inconclusive: the interval straddles it (more data would decide). Whether that blocks is the
  gate's `inconclusive` setting: `warn` (the default: a visible warning, nothing blocked) or `block`.
"""

from __future__ import annotations

from typing import Literal

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
Verdict = Literal["pass", "fail", "inconclusive"]
Inconclusive = Literal["warn", "block"]


def verdict(low: float, high: float, limit: float) -> Verdict:
    """The verdict on a quantity that must not exceed `limit`, from its interval [low, high]."""
    return PASS if high <= limit else FAIL if low > limit else INCONCLUSIVE


def passes(outcome: Verdict, inconclusive: Inconclusive) -> bool:
    """Whether a verdict lets the gate pass: `pass`, or `inconclusive` when that only warns."""
    return outcome == PASS or (outcome == INCONCLUSIVE and inconclusive == "warn")


def worst(outcomes: list[Verdict]) -> Verdict:
    """fail over inconclusive over pass (pass when there is nothing to judge)."""
    return FAIL if FAIL in outcomes else INCONCLUSIVE if INCONCLUSIVE in outcomes else PASS
