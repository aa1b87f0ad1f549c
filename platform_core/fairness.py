"""Fairness of a model's errors across groups of any attribute, with gates.

For each attribute: per group MAE and mean signed error (bias) on held-out rows. A gate holds
when the largest group MAE is at most `max_mae_ratio` times the smallest, and every group's
|bias| is at most `max_abs_bias` years. Groups smaller than `min_rows` are reported, not gated:
their figures are noise. Age bands get their own, looser, thresholds: any regression model
pulls the extremes toward the mean, so some band-wise bias is inherent and the gate is there
to catch a model that makes it worse, not to pretend it away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FairnessThresholds:
    max_mae_ratio: float
    max_abs_bias: float
    min_rows: int = 200


def group_errors(attribute: str, groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> list[dict]:
    rows = []
    err = y_pred.astype(np.float64) - y_true
    for group in sorted(set(groups.tolist()), key=str):
        mask = groups == group
        rows.append({"attribute": attribute, "group": group, "rows": int(mask.sum()),
                     "mae": round(float(np.abs(err[mask]).mean()), 4), "bias": round(float(err[mask].mean()), 4)})
    return rows


def code_labels(codes: np.ndarray, names: dict[int, str]) -> np.ndarray:
    """Group labels from nullable codes (NaN/None -> 'unknown')."""
    out = np.full(len(codes), "unknown", dtype=object)
    for code, name in names.items():
        out[codes == code] = name
    return out


def evaluate_gate(rows: list[dict], thresholds: FairnessThresholds) -> dict:
    gated = [r for r in rows if r["rows"] >= thresholds.min_rows and r["group"] != "unknown"]
    if len(gated) < 2:
        return {"passed": True, "mae_ratio": None, "max_abs_bias": None, "groups_gated": len(gated)}
    maes = [r["mae"] for r in gated]
    ratio = max(maes) / max(min(maes), 1e-9)
    worst_bias = max(abs(r["bias"]) for r in gated)
    return {
        "passed": ratio <= thresholds.max_mae_ratio and worst_bias <= thresholds.max_abs_bias,
        "mae_ratio": round(ratio, 4),
        "max_abs_bias": round(worst_bias, 4),
        "groups_gated": len(gated),
        "max_mae_ratio_allowed": thresholds.max_mae_ratio,
        "max_abs_bias_allowed": thresholds.max_abs_bias,
    }
