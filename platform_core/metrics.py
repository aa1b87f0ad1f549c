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
