"""predict_age's vocabulary on top of the generic metrics: age bands, within 5 years, the
sensitive attributes' codes, and confidence deciles judged by the within-5 share."""

from __future__ import annotations

import numpy as np

from platform_core.metrics import regression_metrics

AGE_BANDS = [(18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 74), (75, 200)]
GENDERS = {0: "M", 1: "F"}
REGIONS = {0: "northeast", 1: "midwest", 2: "south", 3: "west"}


def age_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return regression_metrics(y_true, y_pred, within=5)


def band_label(low: int, high: int) -> str:
    return f"{low}+" if high >= 200 else f"{low}-{high}"


def metrics_by_age_band(y_true: np.ndarray, y_pred: np.ndarray) -> list[dict]:
    rows = []
    for low, high in AGE_BANDS:
        mask = (y_true >= low) & (y_true <= high)
        if mask.any():
            rows.append({"age_band": band_label(low, high), **age_metrics(y_true[mask], y_pred[mask])})
    return rows


def age_band_labels(ages: np.ndarray) -> np.ndarray:
    out = np.empty(len(ages), dtype=object)
    for low, high in AGE_BANDS:
        out[(ages >= low) & (ages <= high)] = band_label(low, high)
    return out


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
