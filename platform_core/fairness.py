"""Fairness of a model's errors across groups of any attribute, with gates that say pass, fail or
inconclusive (platform_core/verdicts.py).

For each attribute: per group MAE and mean signed error (bias) on held-out rows, each with its
standard error. Two quantities are judged against their limits, each by an interval:
- the largest group |bias|: each group's bias +- z * se (se = standard deviation of the signed
  errors / sqrt(rows)), folded to |bias|; the largest's interval runs from the largest lower to
  the largest upper bound;
- the largest MAE ratio (max/min group MAE): every pair's ratio, exp(ln(ratio) +- z *
  sqrt((se_a / mae_a)^2 + (se_b / mae_b)^2)) (delta method on the log scale); the largest's
  interval runs from the largest lower to the largest upper bound of the pairs.
pass: the interval lies within the limit; fail: confidently beyond; inconclusive: it straddles the
limit, naming each group that leaves it open, its rows and about how many would resolve a
difference of the limit's size. A gate makes `comparisons` at once (each group's bias and each
pair's ratio, over every attribute it judges), so z is the Bonferroni quantile that holds them
jointly at `confidence_level`: clean data fail no more often than that whatever the number of
groups, and picking the most extreme pair after looking is allowed for. Groups under `min_rows`
(default 30, where the normal approximation is still rough) cannot be judged: inconclusive at best.
A banded numeric attribute (an age band, an income band) may get its own, looser, thresholds:
any regression model pulls the extremes toward the mean, so some band-wise bias is inherent and
the gate is there to catch a model that makes it worse, not to pretend it away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from platform_core.verdicts import (
    DEFAULT_INCONCLUSIVE, FAIL, INCONCLUSIVE, Inconclusive, critical_value, passes, rows_to_resolve, verdict, worst)


@dataclass(frozen=True)
class FairnessThresholds:
    max_mae_ratio: float
    max_abs_bias: float
    min_rows: int = 30
    confidence_level: float = 0.95
    inconclusive: Inconclusive = DEFAULT_INCONCLUSIVE  # warn: an inconclusive gate passes, flagged; block: it fails


def group_errors(attribute: str, groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> list[dict]:
    rows = []
    err = y_pred.astype(np.float64) - y_true
    for group in sorted(set(groups.tolist()), key=str):
        e = err[groups == group]
        n = len(e)
        rows.append({"attribute": attribute, "group": group, "rows": n,
                     "mae": round(float(np.abs(e).mean()), 4), "bias": round(float(e.mean()), 4),
                     "mae_se": round(float(np.abs(e).std(ddof=1) / math.sqrt(n)), 4) if n > 1 else None,
                     "bias_se": round(float(e.std(ddof=1) / math.sqrt(n)), 4) if n > 1 else None})
    return rows


def code_labels(codes: np.ndarray, names: dict[int, str]) -> np.ndarray:
    """Group labels from nullable codes (NaN/None -> 'unknown')."""
    out = np.full(len(codes), "unknown", dtype=object)
    for code, name in names.items():
        out[codes == code] = name
    return out


def _known(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["group"] != "unknown"]


def _gated(rows: list[dict], thresholds: FairnessThresholds) -> list[dict]:
    return [r for r in _known(rows) if r["rows"] >= max(thresholds.min_rows, 2)]


def comparisons(rows: list[dict], thresholds: FairnessThresholds) -> int:
    """How many intervals an attribute's gate draws: each judged group's bias, each pair's MAE ratio."""
    k = len(_gated(rows, thresholds))
    return k + k * (k - 1) // 2


def _variances(row: dict) -> tuple[float, float]:
    """Per-row variance of a group's signed error and of its |error| / MAE."""
    return row["bias_se"] ** 2 * row["rows"], (row["mae_se"] / max(row["mae"], 1e-9)) ** 2 * row["rows"]


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def _cause(measure: str, figure: str | None, variance: float, limit: float, distance: float | None = None,
           other: dict | None = None) -> dict:
    """What leaves a group open: the measure, its figure, the per-row variance behind its interval
    (with the compared group's, for a ratio), the limit and the figure's distance to it (log scale for a ratio)."""
    return {"measure": measure, "figure": figure, "variance": variance, "limit": limit, "distance": distance,
            "other_variance": _variances(other)[1] if other else 0.0, "other_rows": other["rows"] if other else math.inf,
            "other": other["group"] if other else None}


def evaluate_gate(rows: list[dict], thresholds: FairnessThresholds, family: int | None = None) -> dict:
    """One attribute's verdict (module docstring): the point figures, the intervals they are judged
    by, the groups that leave it open. `family`: the comparisons the whole gate makes at once
    (default: this attribute's own)."""
    known, gated = _known(rows), _gated(rows, thresholds)
    m = family or comparisons(rows, thresholds)
    z = critical_value(thresholds.confidence_level, m)
    result = {"groups": len(known), "groups_gated": len(gated), "comparisons": m,
              "group_rows": ", ".join(f"{r['group']} {r['rows']:,}" for r in known),
              "confidence_level": thresholds.confidence_level, "max_abs_bias_allowed": thresholds.max_abs_bias,
              "max_mae_ratio_allowed": thresholds.max_mae_ratio, "inconclusive": thresholds.inconclusive}
    outcomes, opened = [], {r["group"]: [] for r in known if r not in gated}  # group -> what leaves it open
    limit = thresholds.max_abs_bias
    if gated:
        bounds = []
        for r in gated:
            low, high = r["bias"] - z * r["bias_se"], r["bias"] + z * r["bias_se"]
            bounds.append((0.0 if low <= 0 <= high else min(abs(low), abs(high)), max(abs(low), abs(high))))  # of |bias|
            if bounds[-1][0] <= limit < bounds[-1][1]:
                opened.setdefault(r["group"], []).append(_cause(
                    "|bias|", f"|bias| {_r(abs(r['bias']))}", _variances(r)[0], limit, abs(limit - abs(r["bias"]))))
        interval = (max(b[0] for b in bounds), max(b[1] for b in bounds))
        outcomes.append(verdict(*interval, limit))
        worst_bias = max(gated, key=lambda r: abs(r["bias"]))
        result.update(abs_bias_verdict=outcomes[-1], max_abs_bias=_r(abs(worst_bias["bias"])), abs_bias_group=worst_bias["group"],
                      abs_bias_interval=[_r(interval[0]), _r(interval[1])])

    limit, pairs = thresholds.max_mae_ratio, []
    for a, b in combinations(sorted(gated, key=lambda r: -r["mae"]), 2):  # a: the higher MAE
        log_ratio = math.log(max(a["mae"], 1e-9) / max(b["mae"], 1e-9))
        half = z * math.hypot(a["mae_se"] / max(a["mae"], 1e-9), b["mae_se"] / max(b["mae"], 1e-9))
        pairs.append((a, b, math.exp(log_ratio), math.exp(log_ratio - half), math.exp(log_ratio + half)))
        if pairs[-1][3] <= limit < pairs[-1][4]:
            smaller, other = sorted((a, b), key=lambda g: g["rows"])
            opened.setdefault(smaller["group"], []).append(_cause(
                "MAE ratio", f"MAE ratio {_r(pairs[-1][2])} ({a['group']} / {b['group']})", _variances(smaller)[1],
                math.log(limit), abs(math.log(limit) - log_ratio), other))
    if pairs:
        a, b, ratio, _, _ = max(pairs, key=lambda p: p[2])
        interval = (max(p[3] for p in pairs), max(p[4] for p in pairs))
        outcomes.append(verdict(*interval, limit))
        result.update(mae_ratio_verdict=outcomes[-1], mae_ratio=_r(ratio), mae_ratio_between=[a["group"], b["group"]],
                      mae_ratio_interval=[_r(interval[0]), _r(interval[1])])

    outcome = worst(outcomes + [INCONCLUSIVE] * bool(opened))
    result["open_groups"] = _open_groups(known, gated, opened, thresholds, z) if outcome == INCONCLUSIVE else []
    result.update(verdict=outcome, passed=passes(outcome, thresholds.inconclusive), reason=_reason(outcome, result, thresholds))
    return result


def _open_groups(known: list[dict], gated: list[dict], opened: dict[str, list[dict]], thresholds: FairnessThresholds,
                 z: float) -> list[dict]:
    """Each open group: its rows, about how many would resolve a difference of the limit's size
    (`rows_needed`) and, when it has that many already, about how many would settle its own figure,
    which lies close to the limit (`rows_to_settle`). A group too small to judge is measured with the
    judged groups' pooled variances against the largest of them, on |bias| and MAE ratio alike."""
    pooled = [sum(r["rows"] * _variances(r)[i] for r in gated) / max(sum(r["rows"] for r in gated), 1) for i in (0, 1)]
    largest = max(gated, key=lambda r: r["rows"], default=None)
    too_small = [_cause("|bias|", None, pooled[0], thresholds.max_abs_bias)]
    if largest:
        too_small.append(_cause("MAE ratio", None, pooled[1], math.log(thresholds.max_mae_ratio), other=largest))
    out = []
    for r in sorted((r for r in known if r["group"] in opened), key=lambda r: r["rows"]):
        needs = [(rows_to_resolve(c["variance"], c["limit"], z, c["other_variance"], c["other_rows"]), c)
                 for c in opened[r["group"]] or too_small]
        needed, cause = max(needs, key=lambda pair: pair[0])
        settle = None
        if cause["figure"] and needed <= r["rows"]:
            settle = rows_to_resolve(cause["variance"], max(cause["distance"], 1e-9), z, cause["other_variance"],
                                     cause["other_rows"])
        limit = thresholds.max_abs_bias if cause["measure"] == "|bias|" else thresholds.max_mae_ratio
        out.append({"group": r["group"], "rows": r["rows"], "open_on": cause["figure"] or f"under min_rows {thresholds.min_rows}",
                    "rows_needed": max(needed, thresholds.min_rows), "to_resolve": f"{cause['measure']} of {limit}",
                    "also_in": cause["other"] if needed > cause["other_rows"] else None, "rows_to_settle": settle})
    return out


def open_group_text(g: dict) -> str:
    """`group west has 167 rows; about 332 are needed to resolve a |bias| of 1.0` (or, when it has that
    many, how many would settle its own figure)."""
    if g["rows_to_settle"] is not None:
        return (f"group {g['group']} has {g['rows']:,} rows, enough to resolve a {g['to_resolve']}, but its {g['open_on']} "
                f"is not yet far enough from the limit: about {g['rows_to_settle']:,} would settle it")
    also = f" (as many in {g['also_in']})" if g["also_in"] else ""
    return (f"group {g['group']} has {g['rows']:,} rows; about {g['rows_needed']:,} are needed{also} "
            f"to resolve a {g['to_resolve']}")


def _reason(outcome: str, result: dict, thresholds: FairnessThresholds) -> str:
    limits = f"|bias| <= {thresholds.max_abs_bias}, MAE ratio <= {thresholds.max_mae_ratio}"
    level = f"{thresholds.confidence_level:.0%} jointly over {result['comparisons']} comparisons"
    if outcome == FAIL:
        beyond = []
        if result.get("abs_bias_verdict") == FAIL:
            low, high = result["abs_bias_interval"]
            beyond.append(f"|bias| {result['max_abs_bias']} ({result['abs_bias_group']}) [{low}, {high}] "
                          f"> {thresholds.max_abs_bias}")
        if result.get("mae_ratio_verdict") == FAIL:
            low, high = result["mae_ratio_interval"]
            beyond.append(f"MAE ratio {result['mae_ratio']} ({' / '.join(result['mae_ratio_between'])}) [{low}, {high}] "
                          f"> {thresholds.max_mae_ratio}")
        return f"confidently beyond the limits ({level}): " + "; ".join(beyond)
    if outcome == INCONCLUSIVE:
        return (f"cannot tell whether every group is within the limits ({limits}; {level}): "
                f"{'; '.join(open_group_text(g) for g in result['open_groups'])}")
    if not result["groups_gated"]:
        return "no group to judge"
    return f"every group confidently within the limits ({limits}; {level})"
