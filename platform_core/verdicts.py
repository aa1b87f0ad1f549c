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

A gate on one figure (a coverage, a mean error, a candidate's loss against the champion on the same
rows) is `judged`: its verdict, interval, rows and, when open, about how many rows would settle it;
`conclusive_gate` is the warning check that names every gate left open.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from typing import Literal

from platform_core.gates import GateResult
from platform_core.metrics import wilson_interval

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


def verdict_at_least(low: float, high: float, floor: float) -> Verdict:
    """The verdict on a quantity that must reach `floor`, from its interval [low, high]."""
    return PASS if low >= floor else FAIL if high < floor else INCONCLUSIVE


def rows_to_settle(rows: int, half_width: float, distance: float) -> int | None:
    """About how many rows an interval of `half_width` on `rows` rows needs to shrink (as 1/sqrt(rows))
    to `distance`, the point value's distance from the limit; None when the value sits on the limit."""
    return None if distance <= 0 else max(rows, math.ceil(rows * (half_width / distance) ** 2))


def rows_to_clear(rows: int, value: float, low: float, high: float, limit: float) -> int | None:
    """About how many rows an interval [low, high] around `value`, straddling `limit`, needs for its
    side facing the limit to clear it (`rows_to_settle` on that side: Wilson, Newcombe and
    Agresti-Caffo intervals are not symmetric); None when the value sits on the limit."""
    return rows_to_settle(rows, high - value if value <= limit else value - low, abs(limit - value))


def judged(value: float, low: float, high: float, limit: float, rows: int, inconclusive: Inconclusive,
           at_least: bool = False, digits: int = 4) -> dict:
    """One figure judged by its interval against `limit` (at most, or `at_least`): what a gate's
    metadata and its summary line carry. An open figure's rows needed come from the side of its
    interval that faces the limit (Wilson and Newcombe intervals are not symmetric)."""
    outcome = (verdict_at_least if at_least else verdict)(low, high, limit)
    out = {"verdict": outcome, "value": round(float(value), digits),
           "interval": [round(float(low), digits), round(float(high), digits)], "limit": limit, "at_least": at_least,
           "rows": rows, "inconclusive": inconclusive}
    if outcome == INCONCLUSIVE:
        facing = high - value if value <= limit else value - low
        out["rows_needed"] = rows_to_settle(rows, float(facing), abs(out["value"] - limit))  # on the limit as shown: None
    return out


def proportion_within(hits: int, rows: int, target: float, tolerance: float, inconclusive: Inconclusive,
                      confidence_level: float = 0.95) -> dict:
    """|hits / rows - target| judged against `tolerance` (a calibration: observed share against the
    share promised). The share's Wilson interval [lo, hi] bounds the deviation: from its distance to
    the target (0 when it holds the target) to max(|lo - target|, |hi - target|); `target` is the
    model's own statement on these rows, fixed given them."""
    (lo,), (hi,) = wilson_interval(np.array([hits]), np.array([rows]), confidence_level)
    share = hits / rows
    low = max(lo - target, target - hi, 0.0)
    out = judged(abs(share - target), low, max(abs(lo - target), abs(hi - target)), tolerance, rows, inconclusive)
    return {**out, "share": round(share, 4), "share_interval": [round(float(lo), 4), round(float(hi), 4)],
            "target": round(target, 4)}


def shown(j: dict) -> str:
    """`0.0031 [0.0, 0.0086] <= 0.02: pass`: a judged figure beside its interval, limit and verdict."""
    low, high = j["interval"]
    return f"{j['value']} [{low}, {high}] {'>=' if j['at_least'] else '<='} {j['limit']}: {SHOWN[j['verdict']]}"


def open_reason(name: str, j: dict) -> str:
    """What an inconclusive figure is missing, in a sentence naming the rows it has and needs."""
    needed = (f"about {j['rows_needed']:,} would settle it" if j["rows_needed"] is not None
              else "it sits on the limit, so no sample size settles it")
    low, high = j["interval"]
    return (f"{name} {j['value']} [{low}, {high}] straddles the limit {j['limit']} on {j['rows']:,} rows; {needed} "
            f"(inconclusive: {j['inconclusive']})")


def judged_lines(figures: dict[str, dict], indent: str = "  ") -> list[str]:
    """Summary lines: each judged figure beside its interval, limit, verdict and rows, and under an open
    one what is missing."""
    lines = []
    for label, j in figures.items():
        lines.append(f"{indent}{label:<30} {shown(j)}  (n={j['rows']:,})")
        if j["verdict"] == INCONCLUSIVE:
            lines.append(f"{indent}  {open_reason(label, j)}")
    return lines


def conclusive_gate(name: str, figures: dict[str, dict]) -> GateResult:
    """A warning that every judged figure ({label: judged(...)}) was settled, or which were left
    open and how many rows would settle each. It never blocks nor holds back promotion."""
    opened = {label: j for label, j in figures.items() if j["verdict"] == INCONCLUSIVE}
    return GateResult(name, not opened, {
        "verdict": INCONCLUSIVE if opened else PASS,
        "open": [{"figure": label, "value": j["value"], "interval": j["interval"], "limit": j["limit"], "rows": j["rows"],
                  "rows_needed": j["rows_needed"]} for label, j in opened.items()],
        "reason": "; ".join(open_reason(label, j) for label, j in opened.items()) or "every figure settled"},
        blocking=False)
