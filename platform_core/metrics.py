"""Regression and interval metrics, reported the same way for every model and every split."""

from __future__ import annotations

import numpy as np

AGE_BANDS = [(18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 74), (75, 200)]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=np.float64)
    err = np.asarray(y_pred, dtype=np.float64) - y_true
    if len(err) == 0:
        return {"rows": 0, "mae": float("nan"), "rmse": float("nan"), "r2": float("nan"),
                "bias": float("nan"), "within_5": float("nan")}
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {
        "rows": int(len(err)),
        "mae": round(float(np.abs(err).mean()), 4),
        "rmse": round(float(np.sqrt((err**2).mean())), 4),
        "r2": round(1.0 - float((err**2).sum()) / ss_tot, 4) if ss_tot > 0 else float("nan"),
        "bias": round(float(err.mean()), 4),
        "within_5": round(float((np.abs(err) <= 5).mean()), 4),
    }


def band_label(low: int, high: int) -> str:
    return f"{low}+" if high >= 200 else f"{low}-{high}"


def metrics_by_age_band(y_true: np.ndarray, y_pred: np.ndarray) -> list[dict]:
    rows = []
    for low, high in AGE_BANDS:
        mask = (y_true >= low) & (y_true <= high)
        if mask.any():
            rows.append({"age_band": band_label(low, high), **regression_metrics(y_true[mask], y_pred[mask])})
    return rows


def interval_metrics(y_true: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    inside = (y_true >= lower) & (y_true <= upper)
    return {
        "coverage": round(float(inside.mean()), 4),
        "mean_width": round(float((upper - lower).mean()), 4),
    }


def confidence_deciles(y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray) -> list[dict]:
    """Per confidence decile: mean confidence, observed share within 5 years, MAE.

    A confidence that means something has MAE falling and the within-5 share rising with it.
    """
    order = np.argsort(confidence, kind="stable")
    rows = []
    for decile, idx in enumerate(np.array_split(order, 10), start=1):
        if len(idx) == 0:
            continue
        err = np.abs(y_pred[idx] - y_true[idx])
        rows.append({
            "decile": decile,
            "rows": int(len(idx)),
            "mean_confidence": round(float(confidence[idx].mean()), 4),
            "observed_within_5": round(float((err <= 5).mean()), 4),
            "mae": round(float(err.mean()), 4),
        })
    return rows
