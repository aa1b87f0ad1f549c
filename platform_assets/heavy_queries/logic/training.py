"""The heavy-query classifier: XGBoost on the featurizer's float32 matrix, 5-fold stratified CV with
early stopping, then one final model.

Each fold trains until its validation PR-AUC has not improved for `early_stopping_rounds` (at
most `max_rounds`), and reports ROC AUC, PR-AUC and recall at 0.5 on its held-out fold. The final
model is trained on all training rows for the mean of the folds' best round counts: the CV
decides how long to boost, so no validation or test day is spent on early stopping. Stored as
the booster's UBJ (non-executable).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from platform_assets.heavy_queries.logic.config import ModelConfig


@dataclass
class TrainedModel:
    booster_ubj: bytes
    rounds: int
    params: dict
    cv: dict
    seconds: float

    def booster(self, nthread: int = 1):
        import xgboost as xgb

        booster = xgb.Booster(model_file=bytearray(self.booster_ubj))
        booster.set_param({"nthread": nthread})
        return booster

    def predict(self, X: np.ndarray, nthread: int = 2) -> np.ndarray:
        """P(heavy) per row of a float32 matrix."""
        return self.booster(nthread).inplace_predict(np.asarray(X, dtype=np.float32))


def _params(config: ModelConfig) -> dict:
    return {**config.xgb_params, "seed": config.seed, "nthread": config.nthread}


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y, dtype=bool)
    both = 0 < y.sum() < len(y)
    predicted = np.asarray(p) >= threshold
    return {"rows": int(len(y)), "heavy": int(y.sum()),
            "auc": round(float(roc_auc_score(y, p)), 4) if both else None,
            "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
            "recall": round(float((predicted & y).sum() / y.sum()), 4) if y.any() else None}


def cross_validate(X: np.ndarray, y: np.ndarray, config: ModelConfig) -> dict:
    """Per fold: best round count, AUC, PR-AUC, recall at 0.5; and their means and standard deviations."""
    import xgboost as xgb
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=np.float32)
    if min(int(y.sum()), int(len(y) - y.sum())) < config.folds:
        raise ValueError(f"{int(y.sum())} heavy and {int(len(y) - y.sum())} small rows: too few for {config.folds}-fold CV")
    folds = []
    for train_rows, valid_rows in StratifiedKFold(config.folds, shuffle=True, random_state=config.seed).split(X, y):
        train = xgb.DMatrix(X[train_rows], label=y[train_rows], nthread=config.nthread)
        valid = xgb.DMatrix(X[valid_rows], label=y[valid_rows], nthread=config.nthread)
        booster = xgb.train(_params(config), train, num_boost_round=config.max_rounds, evals=[(valid, "valid")],
                            early_stopping_rounds=config.early_stopping_rounds, verbose_eval=False)
        p = booster.predict(valid, iteration_range=(0, booster.best_iteration + 1))
        folds.append({"best_rounds": int(booster.best_iteration) + 1, **classification_metrics(y[valid_rows], p)})
    summary = {}
    for key in ("best_rounds", "auc", "pr_auc", "recall"):
        values = [f[key] for f in folds if f[key] is not None]
        summary[key] = {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4)} if values else None
    return {"folds": folds, **summary}


def train_model(X: np.ndarray, y: np.ndarray, config: ModelConfig) -> TrainedModel:
    """CV on the (sampled) training rows, then the final model for the CV's mean best round count."""
    import xgboost as xgb

    start = time.perf_counter()
    X = np.asarray(X, dtype=np.float32)
    cv = cross_validate(X, y, config)
    rounds = max(1, int(round(cv["best_rounds"]["mean"])))
    booster = xgb.train(_params(config), xgb.DMatrix(X, label=np.asarray(y, dtype=np.float32), nthread=config.nthread),
                        num_boost_round=rounds)
    return TrainedModel(bytes(booster.save_raw("ubj")), rounds, _params(config), cv, round(time.perf_counter() - start, 2))
