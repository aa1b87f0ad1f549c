"""Tune and fit logistic regression (baseline, scaled), random forest and XGBoost on the train window.

Each algorithm gets the seed's budget: `candidates` parameter sets drawn from its space, `folds`
folds, ROC AUC. Folds are StratifiedGroupKFold by patient_nbr, so no patient is in two folds (the
same person's encounters are alike; splitting them flatters the CV score); they are split once and
shared by the three algorithms. Past `search.max_rows` train rows the search (and the threshold)
tunes on a random sample of whole patients and only the final fit sees every row: the search's
cost grows with the rows of its folds (2,898 s at 685,361 rows, BENCHMARKS.md). Two strategies:
- `random`: the seed's plain RandomizedSearchCV, every candidate on every fold at full size, then
  out-of-fold predictions of the best candidate (one cross_val_predict) for the threshold;
- `halving` (the default; bench/readmission_search.py measures both on the same data): each fit
  is spent where it informs the choice, and every candidate's validation predictions are kept, so
  the best candidate's out-of-fold predictions (for the threshold) cost no extra fit:
  - logistic regression: the C values as one warm-started regularization path per fold;
  - random forest: successive halving with trees as the resource (20 candidates at 17 trees, the
    best 7 grown to 50, the best 3 to 150); a forest is grown, never refitted (warm start: its first
    k trees are exactly the k-tree forest of the same seed);
  - XGBoost: the tree count is early-stopped inside every fold on the fold's validation part
    (xgb.cv style), so the candidates tune the other knobs. The validation part that stops the
    boosting also scores it, which flatters CV AUC a little for every candidate alike; test and
    OOT never take part.
Fits run in `n_jobs` threads (scikit-learn trees and XGBoost release the GIL; each fit uses one
thread and BLAS is held to one thread, so 2 cores are never oversubscribed). Random forests are
bounded (at most 150 trees of depth at most 16, leaves of at least 20 rows, bootstrap samples of at
most half the rows): a stored forest stays small. Each fit done is counted on a `tick` callable,
which train_all turns into throttled progress lines (platform_core/progress.py) for the caller's log.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from platform_assets.readmission.logic.model_config import ModelConfig
from platform_assets.readmission.logic.preprocessing import Encoding, Preprocessor, check_no_leakage, fit_preprocessor
from platform_assets.readmission.logic.schema import LABEL
from platform_core.progress import Log, StagedProgress

ENCODING: dict[str, Encoding] = {"logistic_regression": "onehot", "random_forest": "ordinal", "xgboost": "ordinal"}
FOREST_TREES = 150  # the largest forest: the top rung of the forest's halving
HALVING_FACTOR = 3
BOOSTING_MAX_ROUNDS = 1000  # early stopping ends long before this at the learning rates searched
BOOSTING_PATIENCE = 25  # rounds without a lower validation log loss before a fold stops


def search_space(algorithm: str, strategy: str = "random") -> dict:
    """Parameter distributions per algorithm (scipy distributions where the scale is continuous).
    `random` is the seed's space; `halving` leaves out what it finds itself (the forest's tree
    count is its resource, XGBoost's is early-stopped), and draws XGBoost's learning rate from
    0.05-0.3, where early stopping keeps a few hundred trees at most."""
    from scipy.stats import loguniform

    forest = {"max_depth": [8, 12, 16], "min_samples_leaf": [20, 50, 100, 200], "max_features": ["sqrt", 0.3],
              "max_samples": [0.3, 0.5]}
    boosting = {"max_depth": [3, 4, 5, 6], "subsample": [0.7, 0.85, 1.0], "colsample_bytree": [0.6, 0.8, 1.0],
                "min_child_weight": [1, 5, 20], "reg_lambda": loguniform(0.5, 10.0)}
    spaces = {
        "random": {"logistic_regression": {"C": loguniform(1e-3, 10.0)},
                   "random_forest": {"n_estimators": [50, 100, 150], **forest},
                   "xgboost": {"n_estimators": [100, 200, 300, 400], "learning_rate": loguniform(0.02, 0.2), **boosting}},
        "halving": {"logistic_regression": {"C": loguniform(1e-3, 10.0)}, "random_forest": forest,
                    "xgboost": {"learning_rate": loguniform(0.05, 0.3), **boosting}},
    }
    if strategy not in spaces:
        raise ValueError(f"unknown search strategy {strategy!r}")
    return spaces[strategy][algorithm]


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


def search_sample(train: pl.DataFrame, max_rows: int | None, seed: int) -> pl.DataFrame:
    """The rows the search tunes on: all of `train`, or the encounters of patients drawn at random
    (seeded) while they fit in `max_rows`, so a patient is never split and the folds stay grouped."""
    if max_rows is None or len(train) <= max_rows:
        return train
    per_patient = train.group_by("patient_nbr").len().sort("patient_nbr")
    order = np.random.default_rng(seed).permutation(len(per_patient))
    shuffled = per_patient[order]
    kept = shuffled.filter(shuffled["len"].cum_sum() <= max_rows)["patient_nbr"]
    return train.filter(pl.col("patient_nbr").is_in(kept.implode()))


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


def draw_candidates(algorithm: str, strategy: str, candidates: int, seed: int) -> list[dict]:
    """The candidates a search evaluates: the draw RandomizedSearchCV makes from the same space and seed."""
    from sklearn.model_selection import ParameterSampler

    return [plain(p) for p in ParameterSampler(search_space(algorithm, strategy), n_iter=candidates, random_state=seed)]


@dataclass
class Found:
    """A search's outcome: `figures` (JSON-ready) and, when the search kept them, the best
    candidate's out-of-fold probabilities (`oof`, one per training row)."""

    figures: dict
    oof: np.ndarray | None = None


Tick = Callable[[int], None]  # counts fits done


def _no_tick(_fits: int) -> None:
    pass


def _map(function, items: list, n_jobs: int, tick: Tick = _no_tick) -> list:
    """`function` over `items` in `n_jobs` threads (results in order), one tick per item done."""
    def counted(item):
        result = function(item)
        tick(1)
        return result

    if n_jobs <= 1 or len(items) <= 1:
        return [counted(item) for item in items]
    with ThreadPoolExecutor(min(n_jobs, len(items))) as pool:
        return list(pool.map(counted, items))


def _auc(y: np.ndarray, probability: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, probability))


def _out_of_fold(folds: list, predictions: list[np.ndarray], rows: int) -> np.ndarray:
    oof = np.empty(rows, dtype=np.float64)
    for (_, valid_rows), fold_predictions in zip(folds, predictions):
        oof[valid_rows] = fold_predictions
    return oof


def _logistic_path(X: np.ndarray, y: np.ndarray, folds: list, params: list[dict], n_jobs: int,
                   tick: Tick = _no_tick) -> tuple[list, list, dict]:
    """Every C on every fold, strongest penalty first, each fit starting from the previous
    coefficients: the same 20 x 5 fits for a fraction of the solver iterations."""
    order = sorted(range(len(params)), key=lambda i: params[i]["C"])

    def fold_path(fold):
        X_train, y_train, X_valid = X[fold[0]], y[fold[0]], X[fold[1]]
        model = make_estimator("logistic_regression", 0, warm_start=True)
        path = {}
        for i in order:
            model.set_params(C=params[i]["C"]).fit(X_train, y_train)
            path[i] = (model.predict_proba(X_valid)[:, 1], int(model.n_iter_[0]))
            tick(1)
        return path

    paths = _map(fold_path, folds, n_jobs)
    predictions = [[path[i][0] for path in paths] for i in range(len(params))]
    iterations = sum(it for path in paths for _, it in path.values())
    return params, predictions, {"fits": len(params) * len(folds), "solver_iterations": iterations}


def halving_rungs(candidates: int, max_resource: int, factor: int = HALVING_FACTOR) -> list[tuple[int, int]]:
    """(candidates kept, resource) per rung, as HalvingRandomSearchCV counts them: every candidate
    on max_resource / factor^(rungs-1), the best 1/factor of them on factor times more, up to max_resource."""
    rungs = 1 + math.floor(math.log(candidates, factor) + 1e-9) if candidates > 1 else 1
    kept, out = candidates, []
    for rung in range(rungs):
        out.append((kept, max(1, round(max_resource / factor ** (rungs - 1 - rung)))))
        kept = math.ceil(kept / factor)
    return out


def _forest_halving(X: np.ndarray, y: np.ndarray, folds: list, params: list[dict], seed: int,
                    n_jobs: int, tick: Tick = _no_tick) -> tuple[list, list, dict]:
    """Successive halving with trees as the resource; forests are grown (warm start), never refitted.
    A candidate's score at a rung is its mean fold AUC with that many trees; only the last rung's
    candidates (at FOREST_TREES trees) come back with fold predictions."""

    def grow(task):
        forest, (train_rows, valid_rows), trees = task
        forest.set_params(n_estimators=trees).fit(X[train_rows], y[train_rows])
        return forest.predict_proba(X[valid_rows])[:, 1]

    forests = {(c, f): make_estimator("random_forest", seed, warm_start=True, **params[c])
               for c in range(len(params)) for f in range(len(folds))}
    alive, grown_to, trees_grown, rungs = list(range(len(params))), 0, 0, []
    for kept, trees in halving_rungs(len(params), FOREST_TREES):
        alive = alive[:kept]
        forests = {key: forest for key, forest in forests.items() if key[0] in alive}
        tasks = [(c, f) for c in alive for f in range(len(folds))]
        grown = dict(zip(tasks, _map(grow, [(forests[t], folds[t[1]], trees) for t in tasks], n_jobs, tick)))
        predictions = {c: [grown[(c, f)] for f in range(len(folds))] for c in alive}
        scores = {c: float(np.mean([_auc(y[v], p) for (_, v), p in zip(folds, predictions[c])])) for c in alive}
        alive = sorted(alive, key=lambda c: -scores[c])
        trees_grown += (trees - grown_to) * len(tasks)
        grown_to = trees
        rungs.append({"candidates": len(tasks) // len(folds), "trees": trees, "best_cv_auc": round(scores[alive[0]], 4)})
    return ([{**p, "n_estimators": FOREST_TREES} for p in params], [predictions.get(c) for c in range(len(params))],
            {"fits": sum(r["candidates"] for r in rungs) * len(folds), "trees_grown": trees_grown, "rungs": rungs})


def _boosting_early_stopped(X: np.ndarray, y: np.ndarray, folds: list, params: list[dict], seed: int,
                            n_jobs: int, tick: Tick = _no_tick) -> tuple[list, list, dict]:
    """Each candidate boosted on every fold until the fold's validation log loss stops improving;
    its tree count is the round with the lowest mean validation log loss over folds (as xgb.cv).
    Log loss, not AUC, stops the boosting: it costs a fifth less per round and, being a proper
    score, keeps the probabilities calibrated; candidates are still compared on AUC."""
    import xgboost as xgb

    def boost(task):
        c, f = task
        train_rows, valid_rows = folds[f]
        booster_params = {"objective": "binary:logistic", "tree_method": "hist", "eval_metric": "logloss", "nthread": 1,
                          "seed": seed, **params[c]}
        curve: dict = {}
        valid = xgb.DMatrix(X[valid_rows], y[valid_rows], nthread=1)
        booster = xgb.train(booster_params, xgb.DMatrix(X[train_rows], y[train_rows], nthread=1), BOOSTING_MAX_ROUNDS,
                            evals=[(valid, "valid")], early_stopping_rounds=BOOSTING_PATIENCE, evals_result=curve,
                            verbose_eval=False)
        return booster, np.asarray(curve["valid"]["logloss"])

    tasks = [(c, f) for c in range(len(params)) for f in range(len(folds))]
    boosted = _map(boost, tasks, n_jobs, tick)
    resolved, predictions = [], []
    for c in range(len(params)):
        fold_boosters = boosted[c * len(folds):(c + 1) * len(folds)]
        common = min(len(curve) for _, curve in fold_boosters)
        best_rounds = int(np.argmin(np.mean([curve[:common] for _, curve in fold_boosters], axis=0))) + 1
        resolved.append({**params[c], "n_estimators": best_rounds})
        predictions.append([booster.inplace_predict(X[valid_rows], iteration_range=(0, best_rounds))
                            for (booster, _), (_, valid_rows) in zip(fold_boosters, folds)])
    return resolved, predictions, {"fits": len(tasks), "trees_grown": sum(len(curve) for _, curve in boosted)}


def _kept_predictions_search(algorithm: str, X: np.ndarray, y: np.ndarray, folds: list, candidates: int, seed: int,
                             n_jobs: int, tick: Tick = _no_tick) -> Found:
    drawn = draw_candidates(algorithm, "halving", candidates, seed)
    if algorithm == "logistic_regression":
        params, predictions, work = _logistic_path(X, y, folds, drawn, n_jobs, tick)
    elif algorithm == "random_forest":
        params, predictions, work = _forest_halving(X, y, folds, drawn, seed, n_jobs, tick)
    elif algorithm == "xgboost":
        params, predictions, work = _boosting_early_stopped(X, y, folds, drawn, seed, n_jobs, tick)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    scores = {c: float(np.mean([_auc(y[v], p) for (_, v), p in zip(folds, fold_predictions)]))
              for c, fold_predictions in enumerate(predictions) if fold_predictions is not None}
    best = max(sorted(scores), key=lambda c: scores[c])
    figures = {"best_params": params[best], "cv_auc": scores[best], **work}
    return Found(figures, _out_of_fold(folds, predictions[best], len(y)))


def _seed_search(algorithm: str, X: np.ndarray, y: np.ndarray, folds: list, candidates: int, seed: int, n_jobs: int) -> Found:
    """The seed's RandomizedSearchCV; its out-of-fold predictions come from train_algorithm."""
    from sklearn.model_selection import RandomizedSearchCV

    found = RandomizedSearchCV(make_estimator(algorithm, seed), search_space(algorithm, "random"), n_iter=candidates,
                               scoring="roc_auc", cv=folds, n_jobs=n_jobs, refit=False, random_state=seed).fit(X, y)
    figures = {"best_params": plain(dict(found.best_params_)), "cv_auc": float(found.best_score_), "fits": candidates * len(folds)}
    if algorithm != "logistic_regression":
        figures["trees_grown"] = int(sum(p["n_estimators"] for p in found.cv_results_["params"])) * len(folds)
    return Found(figures)


def planned_fits(algorithm: str, strategy: str, candidates: int, folds: int) -> int:
    """The fits train_algorithm makes: the search's, the out-of-fold predictions' (random only) and the refit."""
    if strategy == "random":
        return candidates * folds + folds + 1
    rungs = halving_rungs(candidates, FOREST_TREES) if algorithm == "random_forest" else [(candidates, 0)]
    return sum(kept for kept, _ in rungs) * folds + 1


def search(algorithm: str, X: np.ndarray, y: np.ndarray, folds: list, strategy: str, candidates: int, seed: int,
           n_jobs: int = 2, tick: Tick = _no_tick) -> Found:
    """Best params and CV AUC of `candidates` draws from the algorithm's space, by `strategy`."""
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        if strategy == "random":
            found = _seed_search(algorithm, X, y, folds, candidates, seed, n_jobs)
            tick(candidates * len(folds))  # RandomizedSearchCV reports nothing while it runs
        elif strategy == "halving":
            found = _kept_predictions_search(algorithm, X, y, folds, candidates, seed, n_jobs, tick)
        else:
            raise ValueError(f"unknown search strategy {strategy!r}")
    found.figures = {"strategy": strategy, "candidates": candidates, **found.figures,
                     "seconds": round(time.perf_counter() - start, 2)}
    return found


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


def train_folds(train: pl.DataFrame, config: ModelConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """The grouped folds of the train rows; computed once and shared by every algorithm (splitting
    ~30,000 patients takes seconds)."""
    return grouped_folds(train[LABEL].to_numpy(), train["patient_nbr"].to_numpy(), config.search.folds, config.search.seed)


def train_algorithm(algorithm: str, train: pl.DataFrame, preprocessor: Preprocessor, config: ModelConfig,
                    n_jobs: int = 2, strategy: str | None = None, folds: list | None = None,
                    tick: Tick = _no_tick, tuned: pl.DataFrame | None = None) -> TrainedModel:
    """Search on `tuned` (a search_sample of `train`, default all of it), the best candidate's
    out-of-fold predictions there (kept by the search, else one cross_val_predict) for the
    threshold, refit on all train rows. `folds`: train_folds(tuned, config); `tick` counts the
    fits as they are done (planned_fits in all)."""
    from sklearn.model_selection import cross_val_predict
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    budget, seed = config.search, config.search.seed
    tuned = train if tuned is None else tuned
    X_tuned = preprocessor.transform(tuned, ENCODING[algorithm])
    y_tuned = tuned[LABEL].to_numpy().astype(np.int32)
    folds = train_folds(tuned, config) if folds is None else folds
    found = search(algorithm, X_tuned, y_tuned, folds, strategy or budget.strategy, budget.candidates, seed, n_jobs, tick)
    best = found.figures["best_params"]
    with threadpool_limits(1, user_api="blas"):
        oof = found.oof
        if oof is None:
            oof = cross_val_predict(make_estimator(algorithm, seed, **best), X_tuned, y_tuned, cv=folds, n_jobs=n_jobs,
                                    method="predict_proba")[:, 1]
            tick(len(folds))
        X, y = ((X_tuned, y_tuned) if tuned is train
                else (preprocessor.transform(train, ENCODING[algorithm]), train[LABEL].to_numpy().astype(np.int32)))
        estimator = make_estimator(algorithm, seed, n_jobs=n_jobs, **best).fit(X, y)
        tick(1)
    threshold = choose_threshold(y_tuned, oof, config.threshold.policy, config.threshold.value)
    if algorithm == "xgboost":
        estimator = estimator.get_booster()
    model = ReadmissionModel(algorithm, preprocessor, estimator, threshold)
    return TrainedModel(model, best, found.figures["cv_auc"], _auc(y_tuned, oof), found.figures,
                        round(time.perf_counter() - start, 2), oof)


def train_all(train: pl.DataFrame, config: ModelConfig, others: dict[str, pl.DataFrame], n_jobs: int = 2,
              strategy: str | None = None, log: Log | None = None, every: float = 10.0) -> tuple[dict[str, TrainedModel], dict]:
    """Every configured algorithm, after proving no test/OOT row reaches training; with figures.
    `log` (a callable taking a line) hears how far the tuning is, at most once every `every` seconds."""
    preprocessor = fit_preprocessor(train, config.windows.train)
    leakage = check_no_leakage(config, train, others, preprocessor)
    tuned = search_sample(train, config.search.max_rows, config.search.seed)
    folds = train_folds(tuned, config)
    progress, trained = StagedProgress(log, every), {}
    for number, algorithm in enumerate(config.algorithms, 1):
        fits = planned_fits(algorithm, strategy or config.search.strategy, config.search.candidates, len(folds))
        progress.stage(f"tuning {algorithm} ({number} of {len(config.algorithms)}, {len(tuned):,} rows)", fits)
        trained[algorithm] = train_algorithm(algorithm, train, preprocessor, config, n_jobs, strategy, folds, progress.advance,
                                             tuned)
    figures = {
        "leakage": leakage, "train_rows": len(train), "train_positives": int(train[LABEL].sum()),
        "train_patients": train["patient_nbr"].n_unique(), "search_rows": len(tuned),
        "search_patients": tuned["patient_nbr"].n_unique(),
        "algorithms": {a: {"cv_auc": round(t.cv_auc, 4), "oof_auc": round(t.oof_auc, 4), "threshold": round(t.model.threshold, 4),
                           "fit_seconds": t.fit_seconds, "search_seconds": t.search["seconds"], "fits": t.search["fits"],
                           "best_params": t.params} for a, t in trained.items()},
    }
    return trained, figures
