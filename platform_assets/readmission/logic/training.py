"""Tune and fit logistic regression (baseline, scaled), random forest and XGBoost on the train window.

Each algorithm gets the seed's budget: `candidates` parameter sets drawn from its space, `folds`
folds, ROC AUC. Folds are StratifiedGroupKFold by patient_nbr, so no patient is in two folds (the
same person's encounters are alike; splitting them flatters the CV score). Two searches over the
same candidates (the same ParameterSampler draw):
- `random`: the seed's plain RandomizedSearchCV, every candidate on every fold at full size;
- `halving`: HalvingRandomSearchCV, all candidates on 1/9 of the rows, the best third on 1/3, the
  best three on all rows (bench/readmission_search.py measures both; the config picks one).
The decision threshold is chosen on out-of-fold predictions of the best candidate over the same
grouped folds, never on test or OOT rows. Random forests are bounded (at most 150 trees of depth
at most 16, leaves of at least 20 rows, bootstrap samples of at most half the rows): a stored forest
stays small and the forest, the costliest of the three to tune, fits the time budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from platform_assets.readmission.logic.model_config import ModelConfig
from platform_assets.readmission.logic.preprocessing import Encoding, Preprocessor, check_no_leakage, fit_preprocessor
from platform_assets.readmission.logic.schema import LABEL

ENCODING: dict[str, Encoding] = {"logistic_regression": "onehot", "random_forest": "ordinal", "xgboost": "ordinal"}


def search_space(algorithm: str) -> dict:
    """Parameter distributions per algorithm (scipy distributions where the scale is continuous)."""
    from scipy.stats import loguniform

    return {
        "logistic_regression": {"C": loguniform(1e-3, 10.0)},
        "random_forest": {"n_estimators": [50, 100, 150], "max_depth": [8, 12, 16], "min_samples_leaf": [20, 50, 100, 200],
                          "max_features": ["sqrt", 0.3], "max_samples": [0.3, 0.5]},
        "xgboost": {"n_estimators": [100, 200, 300, 400], "max_depth": [3, 4, 5, 6], "learning_rate": loguniform(0.02, 0.2),
                    "subsample": [0.7, 0.85, 1.0], "colsample_bytree": [0.6, 0.8, 1.0], "min_child_weight": [1, 5, 20],
                    "reg_lambda": loguniform(0.5, 10.0)},
    }[algorithm]


def make_estimator(algorithm: str, seed: int, n_jobs: int = 1, **params):
    """An unfitted estimator; probabilities stay calibrated (no class re-weighting)."""
    if algorithm == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000, **params)
    if algorithm == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, n_jobs=n_jobs, bootstrap=True, **params)
    if algorithm == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(tree_method="hist", n_jobs=n_jobs, random_state=seed, eval_metric="logloss", **params)
    raise ValueError(f"unknown algorithm {algorithm!r}")


def grouped_folds(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """StratifiedGroupKFold splits: label shares alike across folds, every patient in one fold only."""
    from sklearn.model_selection import StratifiedGroupKFold

    return list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def patients_in_several_folds(folds: list[tuple[np.ndarray, np.ndarray]], groups: np.ndarray) -> int:
    """How many patients appear in the validation part of more than one fold, or on both sides of one."""
    seen: dict = {}
    split_within = 0
    for index, (train_rows, valid_rows) in enumerate(folds):
        valid_patients = np.unique(groups[valid_rows])
        split_within += int(np.isin(valid_patients, groups[train_rows]).sum())
        for patient in valid_patients.tolist():
            seen.setdefault(patient, set()).add(index)
    return split_within + sum(len(fold_set) > 1 for fold_set in seen.values())


def plain(value):
    """JSON-ready Python values from numpy scalars (sampled parameters are numpy floats)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def search(algorithm: str, X: np.ndarray, y: np.ndarray, folds: list, strategy: str, candidates: int, seed: int,
           n_jobs: int = 2) -> dict:
    """Best params and CV AUC of `candidates` draws from the algorithm's space, by `strategy`."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, RandomizedSearchCV

    estimator = make_estimator(algorithm, seed)
    space = search_space(algorithm)
    start = time.perf_counter()
    if strategy == "random":
        found = RandomizedSearchCV(estimator, space, n_iter=candidates, scoring="roc_auc", cv=folds, n_jobs=n_jobs,
                                   refit=False, random_state=seed).fit(X, y)
        fits, full_size_fits = candidates * len(folds), float(candidates * len(folds))
    elif strategy == "halving":
        found = HalvingRandomSearchCV(estimator, space, n_candidates=candidates, factor=3, resource="n_samples", min_resources="exhaust",
                                      scoring="roc_auc", cv=folds, n_jobs=n_jobs, refit=False, random_state=seed).fit(X, y)
        fits = int(np.sum(found.n_candidates_)) * len(folds)
        full_size_fits = float(np.sum(np.asarray(found.n_candidates_) * np.asarray(found.n_resources_)) / len(y) * len(folds))
    else:
        raise ValueError(f"unknown search strategy {strategy!r}")
    return {"strategy": strategy, "best_params": plain(dict(found.best_params_)), "cv_auc": float(found.best_score_),
            "candidates": candidates, "fits": fits, "full_size_fits": round(full_size_fits, 1),
            "seconds": round(time.perf_counter() - start, 2)}


def choose_threshold(y: np.ndarray, probability: np.ndarray, policy: str, value: float | None = None) -> float:
    """The decision threshold by policy: `max_f1` (best F1), `youden` (max TPR - FPR) or `fixed`."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    if policy == "fixed":
        return float(value)
    if policy == "max_f1":
        precision, recall, thresholds = precision_recall_curve(y, probability)
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        return float(thresholds[int(np.argmax(f1))])
    if policy == "youden":
        fpr, tpr, thresholds = roc_curve(y, probability)
        return float(min(thresholds[int(np.argmax(tpr - fpr))], 1.0))
    raise ValueError(f"unknown threshold policy {policy!r}")


@dataclass
class ReadmissionModel:
    """A fitted model with its preprocessing: a scikit-learn estimator, or an XGBoost Booster."""

    algorithm: str
    preprocessor: Preprocessor
    estimator: object
    threshold: float

    @property
    def encoding(self) -> Encoding:
        return ENCODING[self.algorithm]

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        return self.preprocessor.transform(frame, self.encoding)

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        if self.algorithm == "xgboost":
            return np.asarray(self.estimator.inplace_predict(X), dtype=np.float64)
        return self.estimator.predict_proba(X)[:, 1]

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """P(readmitted within 30 days) per row of a feature frame."""
        return self.predict_matrix(self.matrix(frame))


@dataclass
class TrainedModel:
    model: ReadmissionModel
    params: dict
    cv_auc: float
    oof_auc: float
    search: dict
    fit_seconds: float  # search + out-of-fold predictions + refit
    oof_probability: np.ndarray


def train_algorithm(algorithm: str, train: pl.DataFrame, preprocessor: Preprocessor, config: ModelConfig,
                    n_jobs: int = 2, strategy: str | None = None) -> TrainedModel:
    """Search, out-of-fold predictions of the best candidate (for the threshold), refit on all train rows."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    start = time.perf_counter()
    budget, seed = config.search, config.search.seed
    X = preprocessor.transform(train, ENCODING[algorithm])
    y = train[LABEL].to_numpy().astype(np.int32)
    folds = grouped_folds(y, train["patient_nbr"].to_numpy(), budget.folds, seed)
    found = search(algorithm, X, y, folds, strategy or budget.strategy, budget.candidates, seed, n_jobs)
    oof = cross_val_predict(make_estimator(algorithm, seed, **found["best_params"]), X, y, cv=folds, n_jobs=n_jobs,
                            method="predict_proba")[:, 1]
    threshold = choose_threshold(y, oof, config.threshold.policy, config.threshold.value)
    estimator = make_estimator(algorithm, seed, n_jobs=n_jobs, **found["best_params"]).fit(X, y)
    if algorithm == "xgboost":
        estimator = estimator.get_booster()
    model = ReadmissionModel(algorithm, preprocessor, estimator, threshold)
    return TrainedModel(model, found["best_params"], found["cv_auc"], float(roc_auc_score(y, oof)), found,
                        round(time.perf_counter() - start, 2), oof)


def train_all(train: pl.DataFrame, config: ModelConfig, others: dict[str, pl.DataFrame], n_jobs: int = 2,
              strategy: str | None = None) -> tuple[dict[str, TrainedModel], dict]:
    """Every configured algorithm, after proving no test/OOT row reaches training; with figures."""
    preprocessor = fit_preprocessor(train, config.windows.train)
    leakage = check_no_leakage(config, train, others, preprocessor)
    trained = {algorithm: train_algorithm(algorithm, train, preprocessor, config, n_jobs, strategy) for algorithm in config.algorithms}
    figures = {
        "leakage": leakage, "train_rows": len(train), "train_positives": int(train[LABEL].sum()),
        "train_patients": train["patient_nbr"].n_unique(),
        "algorithms": {a: {"cv_auc": round(t.cv_auc, 4), "oof_auc": round(t.oof_auc, 4), "threshold": round(t.model.threshold, 4),
                           "fit_seconds": t.fit_seconds, "search_seconds": t.search["seconds"], "fits": t.search["fits"],
                           "best_params": t.params} for a, t in trained.items()},
    }
    return trained, figures
