"""The decision threshold and the compliance gate.

The threshold minimizes the expected cost on the validation days, where a missed heavy query
(false negative: it lands on the interactive cluster) costs `cost_fn` and a small query sent to
the heavy queue (false positive) costs `cost_fp`; the seed's ratio is 100:1. Validation days are
not sampled, so the cost is measured at the real heavy rate.

The compliance gate judges the test days at that threshold as the seed states it: recall >= 98%
and FNR <= 2% on the point figures (the two are the same condition, FNR = 1 - recall; both are
reported because the seed names both). The Wilson interval of the recall is reported alongside,
so a pass on few heavy queries can be seen for what it is; it does not decide the verdict.
Queries routed by a zero-cost rule are scored 0 (`routed_probabilities`), so the gate judges
the system as served, rules included.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.config import ModelConfig
from platform_assets.heavy_queries.logic.labels import wilson_interval
from platform_core.gates import GateResult


def confusion(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """Counts and rates when queries with p >= threshold go to the heavy queue."""
    y = np.asarray(y, dtype=bool)
    routed = np.asarray(p) >= threshold
    tp, fn = int((routed & y).sum()), int((~routed & y).sum())
    fp, tn = int((routed & ~y).sum()), int((~routed & ~y).sum())
    return {"threshold": float(threshold), "rows": int(len(y)), "heavy": tp + fn, "tp": tp, "fn": fn, "fp": fp, "tn": tn,
            "recall": round(tp / (tp + fn), 5) if tp + fn else None, "fnr": round(fn / (tp + fn), 5) if tp + fn else None,
            "precision": round(tp / (tp + fp), 5) if tp + fp else None,
            "routed_share": round(float(routed.mean()), 5) if len(y) else None}


def choose_threshold(y: np.ndarray, p: np.ndarray, cost_fn: float = 100.0, cost_fp: float = 1.0) -> dict:
    """The cut with the lowest cost_fn * FN + cost_fp * FP over every split of the observed
    probabilities (and "route nothing"); ties go to the higher cut (fewer queries routed). The
    threshold is placed halfway between the lowest probability routed and the highest not routed:
    a boosted model gives many rows the very same probability, and a threshold equal to one of
    them would let a float32 rounding difference (ONNX against XGBoost) flip the decision."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=np.float64)
    values = np.unique(p)
    candidates = np.append(values, np.inf)
    order = np.sort(p)
    heavy_scores = np.sort(p[y])
    fn = np.searchsorted(heavy_scores, candidates, side="left")  # heavy with p < t
    fp = (len(order) - np.searchsorted(order, candidates, side="left")) - (len(heavy_scores) - fn)
    cost = cost_fn * fn + cost_fp * fp
    best = int(np.flatnonzero(cost == cost.min())[-1])
    below = values[best - 1] if best > 0 else 0.0
    above = values[best] if best < len(values) else 1.0
    threshold = float((below + above) / 2)
    return {**confusion(y, p, threshold), "cost_fn": cost_fn, "cost_fp": cost_fp, "expected_cost": float(cost[best]),
            "cost_per_1000_queries": round(1000 * float(cost[best]) / max(len(y), 1), 3)}


def routed_probabilities(frame: pl.DataFrame, p: np.ndarray, zero_cost_categories: list[str]) -> np.ndarray:
    """Model probabilities with the rows of enabled zero-cost categories set to 0 (routed light by rule)."""
    routed = frame["zero_cost_category"].is_in(list(zero_cost_categories)).fill_null(False).to_numpy()
    return np.where(routed, 0.0, np.asarray(p, dtype=np.float64))


def compliance_gate(y: np.ndarray, p: np.ndarray, threshold: float, config: ModelConfig) -> GateResult:
    """Recall >= min_recall and FNR <= max_fnr on the test days at `threshold` (point figures)."""
    figures = confusion(y, p, threshold)
    if not figures["heavy"]:
        return GateResult("compliance_recall", False, {**figures, "reason": "no heavy query in the test days"})
    low, high = wilson_interval(figures["tp"], figures["heavy"], config.confidence_level)
    passed = figures["recall"] >= config.min_recall and figures["fnr"] <= config.max_fnr
    return GateResult("compliance_recall", bool(passed), {
        **figures, "min_recall": config.min_recall, "max_fnr": config.max_fnr,
        "recall_interval": [round(low, 5), round(high, 5)], "confidence_level": config.confidence_level,
        "judged_on": "point recall and FNR, as the seed states the gate; the interval is reported, not gated",
    })
