"""Regression and interval metrics, reported the same way for every model, split and job."""

from __future__ import annotations

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
