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


def _params(config: ModelConfig, feature_names: list[str] | None = None) -> dict:
    """XGBoost's parameters; with the matrix's `feature_names`, P(heavy) never decreases along the features of
    `config.monotone_increasing` (more rows to read is never lighter), so a size beyond any seen extrapolates up."""
    params = {**config.xgb_params, "seed": config.seed, "nthread": config.nthread}
    if feature_names and config.monotone_increasing:
        params["monotone_constraints"] = "(" + ",".join("1" if name in config.monotone_increasing else "0"
                                                        for name in feature_names) + ")"
    return params


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y, dtype=bool)
    both = 0 < y.sum() < len(y)
    predicted = np.asarray(p) >= threshold
    return {"rows": int(len(y)), "heavy": int(y.sum()),
            "auc": round(float(roc_auc_score(y, p)), 4) if both else None,
            "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
            "recall": round(float((predicted & y).sum() / y.sum()), 4) if y.any() else None}


def cross_validate(X: np.ndarray, y: np.ndarray, config: ModelConfig, params: dict | None = None) -> dict:
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
        booster = xgb.train(params or _params(config), train, num_boost_round=config.max_rounds, evals=[(valid, "valid")],
                            early_stopping_rounds=config.early_stopping_rounds, verbose_eval=False)
        p = booster.predict(valid, iteration_range=(0, booster.best_iteration + 1))
        folds.append({"best_rounds": int(booster.best_iteration) + 1, **classification_metrics(y[valid_rows], p)})
    summary = {}
    for key in ("best_rounds", "auc", "pr_auc", "recall"):
        values = [f[key] for f in folds if f[key] is not None]
        summary[key] = {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4)} if values else None
    return {"folds": folds, **summary}


def train_model(X: np.ndarray, y: np.ndarray, config: ModelConfig, feature_names: list[str] | None = None) -> TrainedModel:
    """CV on the (sampled) training rows, then the final model for the CV's mean best round count; the columns'
    `feature_names` give the monotone constraints (`_params`)."""
    import xgboost as xgb

    start = time.perf_counter()
    X = np.asarray(X, dtype=np.float32)
    params = _params(config, feature_names)
    cv = cross_validate(X, y, config, params)
    rounds = max(1, int(round(cv["best_rounds"]["mean"])))
    booster = xgb.train(params, xgb.DMatrix(X, label=np.asarray(y, dtype=np.float32), nthread=config.nthread),
                        num_boost_round=rounds)
    return TrainedModel(bytes(booster.save_raw("ubj")), rounds, params, cv, round(time.perf_counter() - start, 2))


def out_of_fold_unseen(X: np.ndarray, y: np.ndarray, groups: np.ndarray, unseen: np.ndarray, columns: list[int],
                       params: dict, rounds: int, config: ModelConfig) -> np.ndarray | None:
    """P(heavy) of every row from a model that never saw its group (GroupKFold over `groups`: the tables a
    query reads, which keeps a template's instances together), the row's fingerprint history replaced by
    `unseen` (its `columns` as if the fingerprint had never run): how the model scores a query shape it
    never saw. None when there are fewer than two groups."""
    import xgboost as xgb
    from sklearn.model_selection import GroupKFold

    folds = min(config.folds, len(np.unique(groups)))
    if folds < 2:
        return None
    y = np.asarray(y, dtype=np.float32)
    out = np.zeros(len(y), dtype=np.float64)
    for train_rows, held in GroupKFold(folds).split(X, y, groups):
        booster = xgb.train(params, xgb.DMatrix(X[train_rows], label=y[train_rows], nthread=config.nthread),
                            num_boost_round=rounds)
        rows = X[held]
        rows[:, columns] = unseen[held]
        out[held] = booster.inplace_predict(rows)
    return out


def cold_start_threshold(X: np.ndarray, y: np.ndarray, groups: np.ndarray, unseen: np.ndarray, columns: list[int],
                         weights: np.ndarray, model: TrainedModel, threshold: float, config: ModelConfig) -> dict:
    """The threshold for a query whose fingerprint has no history: the FN:FP cost minimized on the out-of-fold
    predictions of `out_of_fold_unseen`, each row weighed by `weights` (1 / its keep probability: the training
    days as they were); never above the warm `threshold`, so an uncertain prediction leans heavy."""
    from platform_assets.heavy_queries.logic.threshold import choose_threshold

    out = {"threshold": threshold, "groups": int(len(np.unique(groups))), "cold_start": config.cold_start}
    if not config.cold_start:
        return out | {"chosen_on": "cold start off: the warm threshold"}
    oof = out_of_fold_unseen(X, y, groups, unseen, columns, model.params, model.rounds, config)
    if oof is None:
        return out | {"chosen_on": "fewer than two groups of tables: the warm threshold"}
    y = np.asarray(y, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    chosen = choose_threshold(y, oof, config.cost_fn, config.cost_fp, weights)["threshold"]
    routed = oof >= min(chosen, threshold)
    return out | {"threshold": min(chosen, threshold), "out_of_fold_threshold": chosen,
                  "out_of_fold_recall": round(float(weights[routed & y].sum() / max(weights[y].sum(), 1e-12)), 5),
                  "out_of_fold_routed_share": round(float(weights[routed].sum() / weights.sum()), 5),
                  "chosen_on": f"out-of-fold predictions of the training sample, {min(config.folds, out['groups'])} folds "
                               "grouped by the tables read, fingerprint history unseen, rows weighed by 1 / keep probability"}
