"""Fairness of a model's errors across groups of any attribute, with gates judged statistically.

For each attribute: per group MAE and mean signed error (bias) on held-out rows, each with its
standard error. A gate fails only when the data are confident (two-sided 95% by default) that a
limit is exceeded, so its verdict does not flip with sample size:
- bias: a group fails when the lower bound of its |bias| interval, |bias| - z * se, is above
  `max_abs_bias` (se = standard deviation of the signed errors / sqrt(rows));
- MAE ratio: the largest over the smallest group MAE fails when the lower bound of its interval
  on the log scale, exp(ln(ratio) - z * sqrt((se_a / mae_a)^2 + (se_b / mae_b)^2)) (delta method),
  is above `max_mae_ratio`.
A small group has a wide interval and passes unless its disparity is large; a large group is
held to the limit itself. Groups under `min_rows` (default 30, where the normal approximation
is still rough) are reported, not gated. Age bands get their own, looser, thresholds: any
regression model pulls the extremes toward the mean, so some band-wise bias is inherent and the
gate is there to catch a model that makes it worse, not to pretend it away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959964


@dataclass(frozen=True)
class FairnessThresholds:
    max_mae_ratio: float
    max_abs_bias: float
    min_rows: int = 30
    z: float = Z_95


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


def evaluate_gate(rows: list[dict], thresholds: FairnessThresholds) -> dict:
    """The verdict for one attribute's groups: point figures and the lower bounds they are judged by."""
    gated = [r for r in rows if r["rows"] >= thresholds.min_rows and r["group"] != "unknown"]
    if not gated:
        return {"passed": True, "mae_ratio": None, "mae_ratio_lower": None, "max_abs_bias": None, "abs_bias_lower": None,
                "groups_gated": 0}
    worst = max(gated, key=lambda r: abs(r["bias"]) - thresholds.z * r["bias_se"])
    bias_lower = max(0.0, abs(worst["bias"]) - thresholds.z * worst["bias_se"])
    ratio = ratio_lower = None
    if len(gated) >= 2:
        high, low = max(gated, key=lambda r: r["mae"]), min(gated, key=lambda r: r["mae"])
        ratio = high["mae"] / max(low["mae"], 1e-9)
        spread = math.hypot(high["mae_se"] / max(high["mae"], 1e-9), low["mae_se"] / max(low["mae"], 1e-9))
        ratio_lower = math.exp(math.log(ratio) - thresholds.z * spread)
    return {
        "passed": bias_lower <= thresholds.max_abs_bias and (ratio_lower is None or ratio_lower <= thresholds.max_mae_ratio),
        "mae_ratio": None if ratio is None else round(ratio, 4),
        "mae_ratio_lower": None if ratio_lower is None else round(ratio_lower, 4),
        "max_abs_bias": round(max(abs(r["bias"]) for r in gated), 4),
        "abs_bias_lower": round(bias_lower, 4),
        "groups_gated": len(gated),
        "max_mae_ratio_allowed": thresholds.max_mae_ratio,
        "max_abs_bias_allowed": thresholds.max_abs_bias,
    }
