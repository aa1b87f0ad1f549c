"""Drift of features and predictions against the training data: population stability index.

At training time each feature's distribution (decile edges and shares, plus the missing share)
and the prediction distribution on a sample of the quarter's rows to be scored are stored with
the model. Daily monitoring bins new rows on the same edges and computes
PSI = sum((new - ref) * ln(new / ref)); by convention < 0.1 stable, 0.1-0.2 moderate, > 0.2 drift.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-4


def reference_histogram(values: np.ndarray, bins: int = 10) -> dict:
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return {"edges": [], "shares": [], "missing_share": 1.0}
    # edges rounded before binning, as stored: a value on an edge (counts, one-hots, repeated scores)
    # must land in the bin psi() will put it in
    edges = np.unique(np.round(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]), 6))
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return {"edges": edges.tolist(),
            "shares": np.round(counts / len(values), 6).tolist(),
            "missing_share": round(1 - len(present) / len(values), 6)}


def bin_counts(reference: dict, values: np.ndarray) -> tuple[np.ndarray, int]:
    """Rows of `values` in each of the reference's bins, and rows missing: what psi_from_counts
    judges, so counts of many batches can be added up without keeping their values."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    edges = np.asarray(reference["edges"])
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1) if len(edges) else np.zeros(0)
    return counts, len(values) - len(present)


def psi_from_counts(reference: dict, counts: np.ndarray, missing: float, rows: float) -> float:
    """PSI of `rows` values binned on the reference's edges (bin_counts, summed over batches if need be)."""
    if rows == 0:
        return 0.0
    new = np.append(np.asarray(counts) / rows, missing / rows)
    ref = np.append(np.asarray(reference["shares"]), reference["missing_share"])
    new, ref = np.maximum(new, EPS), np.maximum(ref, EPS)
    return round(float(((new - ref) * np.log(new / ref)).sum()), 6)


def psi(reference: dict, values: np.ndarray) -> float:
    return psi_from_counts(reference, *bin_counts(reference, values), len(values))


def drift_reference(X: np.ndarray, features: list[str], predictions: np.ndarray) -> dict:
    return {"features": {f: reference_histogram(X[:, j]) for j, f in enumerate(features)},
            "prediction": reference_histogram(predictions)}


def drift_report(reference: dict, X: np.ndarray, features: list[str], predictions: np.ndarray,
                 prediction_name: str = "prediction") -> list[dict]:
    rows = [{"name": f, "kind": "feature", "psi": psi(reference["features"][f], X[:, j])}
            for j, f in enumerate(features) if f in reference["features"]]
    rows.append({"name": prediction_name, "kind": "prediction", "psi": psi(reference["prediction"], predictions)})
    return sorted(rows, key=lambda r: -r["psi"])
