"""The decision threshold and the compliance gate.

The threshold minimizes the expected cost on the validation days, where a missed heavy query
(false negative: it lands on the interactive cluster) costs `cost_fn` and a small query sent to
the heavy queue (false positive) costs `cost_fp`; the seed's ratio is 100:1. Validation days are
not sampled, so the cost is measured at the real heavy rate.

A query whose fingerprint has no history (a shape never seen: the cold start) gets its own, lower
threshold when the model is less sure of it: the same cost minimized on out-of-fold predictions
of the training sample, each fold's model trained without the held-out rows' group of tables and
those rows' fingerprint history made unseen, rows weighed by 1 / their keep probability
(training.cold_start_threshold). It is never above the warm one: an uncertain prediction leans heavy.

The compliance gate judges the test days at those thresholds as the seed states it: recall >= 98%
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
from platform_core.verdicts import FAIL, judged, passes, shown


def confusion(y: np.ndarray, p: np.ndarray, threshold: float | np.ndarray) -> dict:
    """Counts and rates when queries with p >= threshold go to the heavy queue (`threshold` one value, or
    one per row: a cold-start row has its own, `decision_thresholds`)."""
    return {**({"threshold": float(threshold)} if np.ndim(threshold) == 0 else {}),
            **outcome(y, np.asarray(p) >= threshold)}


def outcome(y: np.ndarray, routed: np.ndarray) -> dict:
    """Counts and rates of the decisions `routed` (True: sent to the heavy queue) against the labels `y`."""
    y, routed = np.asarray(y, dtype=bool), np.asarray(routed, dtype=bool)
    tp, fn = int((routed & y).sum()), int((~routed & y).sum())
    fp, tn = int((routed & ~y).sum()), int((~routed & ~y).sum())
    return {"rows": int(len(y)), "heavy": tp + fn, "tp": tp, "fn": fn, "fp": fp, "tn": tn,
            "recall": round(tp / (tp + fn), 5) if tp + fn else None, "fnr": round(fn / (tp + fn), 5) if tp + fn else None,
            "precision": round(tp / (tp + fp), 5) if tp + fp else None,
            "routed_share": round(float(routed.mean()), 5) if len(y) else None}


def choose_threshold(y: np.ndarray, p: np.ndarray, cost_fn: float = 100.0, cost_fp: float = 1.0,
                     weights: np.ndarray | None = None) -> dict:
    """The cut with the lowest cost_fn * FN + cost_fp * FP over every split of the observed
    probabilities (and "route nothing"); ties go to the higher cut (fewer queries routed). Each row
    counts `weights` times (1 by default; a sampled row 1 / its keep probability). The threshold is
    placed halfway between the lowest probability routed and the highest not routed: a boosted
    model gives many rows the very same probability, and a threshold equal to one of them would let
    a float32 rounding difference (ONNX against XGBoost) flip the decision."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=np.float64)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    values, first = np.unique(p[order], return_index=True)
    heavy_below = np.concatenate([[0.0], np.cumsum(np.where(y[order], w[order], 0.0))])
    light_below = np.concatenate([[0.0], np.cumsum(np.where(y[order], 0.0, w[order]))])
    fn = np.append(heavy_below[first], heavy_below[-1])  # heavy with p < t, for t = each value and "route nothing"
    fp = light_below[-1] - np.append(light_below[first], light_below[-1])
    cost = cost_fn * fn + cost_fp * fp
    best = int(np.flatnonzero(cost == cost.min())[-1])
    below = values[best - 1] if best > 0 else 0.0
    above = values[best] if best < len(values) else 1.0
    threshold = float((below + above) / 2)
    return {**confusion(y, p, threshold), "cost_fn": cost_fn, "cost_fp": cost_fp, "expected_cost": float(cost[best]),
            "cost_per_1000_queries": round(1000 * float(cost[best]) / max(float(w.sum()), 1.0), 3)}


def decision_thresholds(cold: np.ndarray, threshold: float, cold_threshold: float) -> np.ndarray:
    """Per row: `cold_threshold` for a query whose fingerprint has no history (cold start), else `threshold`."""
    return np.where(np.asarray(cold, dtype=bool), cold_threshold, threshold)


def routed_probabilities(frame: pl.DataFrame, p: np.ndarray, zero_cost_categories: list[str]) -> np.ndarray:
    """Model probabilities with the rows of enabled zero-cost categories set to 0 (routed light by rule)."""
    routed = frame["zero_cost_category"].is_in(list(zero_cost_categories)).fill_null(False).to_numpy()
    return np.where(routed, 0.0, np.asarray(p, dtype=np.float64))


def compliance_gate(y: np.ndarray, p: np.ndarray, threshold: float, config: ModelConfig, cold: np.ndarray | None = None,
                    cold_threshold: float | None = None) -> GateResult:
    """The seed's floor, recall >= min_recall and FNR <= max_fnr on the test days at `threshold` (and
    at `cold_threshold` for the rows flagged `cold`, no history for their fingerprint, with those
    rows' figures), judged also by the recall's Wilson interval: at or above the floor and
    confidently so passes; below it fails; at or above it but not confidently is inconclusive, which
    warns (names the heavy queries that would settle it) unless `compliance_inconclusive` is block."""
    cold = np.zeros(len(p), dtype=bool) if cold is None else np.asarray(cold, dtype=bool)
    cold_threshold = threshold if cold_threshold is None else cold_threshold
    figures = {**confusion(y, p, decision_thresholds(cold, threshold, cold_threshold)), "threshold": float(threshold),
               "cold_threshold": float(cold_threshold)}
    cold_figures = confusion(np.asarray(y, dtype=bool)[cold], np.asarray(p)[cold], cold_threshold)
    figures["cold_start"] = {k: cold_figures[k] for k in ("rows", "heavy", "tp", "fn", "fp", "recall", "precision", "routed_share")}
    if not figures["heavy"]:
        return GateResult("compliance_recall", False, {**figures, "reason": "no heavy query in the test days"})
    low, high = wilson_interval(figures["tp"], figures["heavy"], config.confidence_level)
    floor = figures["recall"] >= config.min_recall and figures["fnr"] <= config.max_fnr
    recall = judged(figures["recall"], low, high, config.min_recall, figures["heavy"], config.compliance_inconclusive,
                    at_least=True, digits=5)
    outcome = recall["verdict"] if floor else FAIL
    return GateResult("compliance_recall", bool(floor and passes(outcome, config.compliance_inconclusive)), {
        **figures, "min_recall": config.min_recall, "max_fnr": config.max_fnr, "verdict": outcome,
        "recall_interval": [round(low, 5), round(high, 5)], "confidence_level": config.confidence_level,
        "shown": shown({**recall, "verdict": outcome}), "heavy_needed": recall.get("rows_needed"),
        "inconclusive": config.compliance_inconclusive,
        "judged_on": "the seed's point floor (recall and FNR) and the recall's Wilson interval: above the floor but "
                     "not confidently is inconclusive",
    })
