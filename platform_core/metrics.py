"""Regression and interval metrics, and the Wilson interval of a proportion, reported the same way for every model, split and job."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, within: float | None = None) -> dict[str, float]:
    """MAE, RMSE, R², bias; with `within`, also the share of rows whose |error| <= within
    (keyed `within_<within>`, e.g. `within_5`)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    err = np.asarray(y_pred, dtype=np.float64) - y_true
    if len(err) == 0:
        return {"rows": 0, "mae": float("nan"), "rmse": float("nan"), "r2": float("nan"),
                "bias": float("nan"), **({f"within_{within:g}": float("nan")} if within is not None else {})}
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {
        "rows": int(len(err)),
        "mae": round(float(np.abs(err).mean()), 4),
        "rmse": round(float(np.sqrt((err**2).mean())), 4),
        "r2": round(1.0 - float((err**2).sum()) / ss_tot, 4) if ss_tot > 0 else float("nan"),
        "bias": round(float(err.mean()), 4),
        **({f"within_{within:g}": round(float((np.abs(err) <= within).mean()), 4)} if within is not None else {}),
    }


def interval_metrics(y_true: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    inside = (y_true >= lower) & (y_true <= upper)
    return {
        "coverage": round(float(inside.mean()), 4),
        "mean_width": round(float((upper - lower).mean()), 4),
    }


def wilson_interval(successes: np.ndarray, rows: np.ndarray, confidence_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (vectorized)."""
    z = NormalDist().inv_cdf(0.5 + confidence_level / 2)
    n = np.maximum(np.asarray(rows, dtype=np.float64), 1.0)
    p = np.asarray(successes, dtype=np.float64) / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def mean_interval(values: np.ndarray, confidence_level: float = 0.95) -> tuple[float, float, float]:
    """The mean of per-row values with its normal (central limit) interval, mean +- z * sd / sqrt(n).
    Given per-row differences between two models scored on the same rows (|error| of one minus the
    other's), it is the paired interval: what both models get wrong alike cancels row by row."""
    values = np.asarray(values, dtype=np.float64)
    mean, z = float(values.mean()), NormalDist().inv_cdf(0.5 + confidence_level / 2)
    half = z * float(values.std(ddof=1)) / np.sqrt(len(values)) if len(values) > 1 else np.inf
    return mean, mean - half, mean + half


def paired_auc_difference(y: np.ndarray, first: np.ndarray, second: np.ndarray, confidence_level: float = 0.95) -> dict:
    """AUC(second) - AUC(first) scored on the same rows, with its DeLong interval: the two models'
    errors are correlated, so the paired interval is much narrower than either AUC's own."""
    from scipy.stats import rankdata

    y = np.asarray(y)
    positive = y == 1
    m, n = int(positive.sum()), int((~positive).sum())
    aucs, v_pos, v_neg = [], [], []
    for score in (np.asarray(first), np.asarray(second)):
        ranks = rankdata(score)
        aucs.append((ranks[positive].sum() - m * (m + 1) / 2) / (m * n))
        v_pos.append((ranks[positive] - rankdata(score[positive])) / n)
        v_neg.append(1.0 - (ranks[~positive] - rankdata(score[~positive])) / m)
    covariance = np.cov(np.vstack(v_pos)) / m + np.cov(np.vstack(v_neg)) / n
    difference = aucs[1] - aucs[0]
    z = NormalDist().inv_cdf(0.5 + confidence_level / 2)
    half = z * np.sqrt(max(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1], 0.0))
    return {"difference": round(float(difference), 4), "low": round(float(difference - half), 4),
            "high": round(float(difference + half), 4)}
