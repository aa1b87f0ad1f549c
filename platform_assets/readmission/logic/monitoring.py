"""Monthly monitoring of the champion: drift of every feature and of the score against the
training window (PSI, platform_core.drift), and AUC / Brier once the month's labels exist.

Numeric features are binned on the training deciles; each categorical feature gets one bin per
training category, and NULL or never-seen values count as missing, so a new code shows as drift.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from platform_assets.readmission.logic.schema import JOB, LABEL
from platform_assets.readmission.logic.training import ReadmissionModel
from platform_core.drift import psi, reference_histogram
from platform_core.storage import DataLayout, atomic_dir

PSI_MODERATE, PSI_DRIFT = 0.1, 0.2


def _category_histogram(codes: np.ndarray, categories: int) -> dict:
    present = codes[codes >= 0]
    total = max(len(codes), 1)
    return {"edges": [k + 0.5 for k in range(categories - 1)],
            "shares": np.round(np.bincount(present, minlength=categories) / total, 6).tolist(),
            "missing_share": round(1 - len(present) / total, 6)}


def _as_values(codes: np.ndarray) -> np.ndarray:
    return np.where(codes >= 0, codes, np.nan).astype(np.float64)


def training_reference(model: ReadmissionModel, train: pl.DataFrame) -> dict:
    """Distributions of every feature and of the predicted probability on the training rows."""
    numeric, codes = model.preprocessor.codes(train)
    prep = model.preprocessor
    features = {name: reference_histogram(numeric[:, j]) for j, name in enumerate(prep.numeric)}
    features |= {name: _category_histogram(codes[:, j], len(prep.categories[name])) for j, name in enumerate(prep.categorical)}
    return {"features": features, "prediction": reference_histogram(model.predict_proba(train))}


def _level(value: float) -> str:
    return "drift" if value > PSI_DRIFT else "moderate" if value > PSI_MODERATE else "stable"


def drift_rows(reference: dict, model: ReadmissionModel, features: pl.DataFrame, probability: np.ndarray) -> list[dict]:
    """PSI of each feature and of the score, largest first."""
    numeric, codes = model.preprocessor.codes(features)
    prep = model.preprocessor
    values = [(name, numeric[:, j].astype(np.float64)) for j, name in enumerate(prep.numeric)]
    values += [(name, _as_values(codes[:, j])) for j, name in enumerate(prep.categorical)]
    rows = [{"name": name, "kind": "feature", "psi": psi(reference["features"][name], column)} for name, column in values]
    rows.append({"name": "readmission_probability", "kind": "score", "psi": psi(reference["prediction"], probability)})
    return sorted(({**r, "level": _level(r["psi"])} for r in rows), key=lambda r: -r["psi"])


def labelled_performance(scores: pl.DataFrame, labels: pl.DataFrame | None) -> dict | None:
    """AUC and Brier of the month's scores against its labels; None until labels arrive."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    if labels is None or len(labels) == 0:
        return None
    joined = scores.join(labels.select("encounter_id", LABEL), on="encounter_id", how="inner")
    if len(joined) == 0:
        return None
    y = joined[LABEL].to_numpy().astype(np.int8)
    p = joined["readmission_probability"].to_numpy()
    return {"rows_labelled": len(joined), "rows_scored": len(scores), "positives": int(y.sum()),
            "auc_roc": round(float(roc_auc_score(y, p)), 4) if len(np.unique(y)) == 2 else None,
            "brier": round(float(brier_score_loss(y, p)), 4), "mean_probability": round(float(p.mean()), 4),
            "observed_rate": round(float(y.mean()), 4)}


def monitor_month(reference: dict, model: ReadmissionModel, features: pl.DataFrame, scores: pl.DataFrame,
                  labels: pl.DataFrame | None = None) -> dict:
    """Drift table and (when labelled) performance of one scored month, with summary figures."""
    aligned = features.select("encounter_id").join(scores.select("encounter_id", "readmission_probability"), on="encounter_id",
                                                    how="left", maintain_order="left")
    if aligned["readmission_probability"].null_count():
        raise ValueError(f"{aligned['readmission_probability'].null_count()} feature rows of the month have no score")
    drift = drift_rows(reference, model, features, aligned["readmission_probability"].to_numpy())
    score_psi = next(r["psi"] for r in drift if r["kind"] == "score")
    return {"drift": drift, "performance": labelled_performance(scores, labels), "rows": len(features),
            "score_psi": score_psi, "features_drifting": [r["name"] for r in drift if r["kind"] == "feature" and r["level"] == "drift"],
            "max_feature_psi": max((r["psi"] for r in drift if r["kind"] == "feature"), default=0.0)}


def write_monitoring(layout: DataLayout, month: str, result: dict, job: str = JOB) -> str:
    """`monitoring/<month>/drift.parquet` (+ `performance.json` once labelled), replaced atomically."""
    target = layout.table(job, "monitoring", month)
    with atomic_dir(target) as tmp:
        pl.DataFrame(result["drift"]).write_parquet(tmp / "drift.parquet")
        if result["performance"] is not None:
            (tmp / "performance.json").write_text(json.dumps(result["performance"], indent=1, sort_keys=True) + "\n")
    return str(target)
