"""The engagement model: impute, SelectKBest(f_regression), StandardScaler, XGBoost; stored without pickle.

`EngagementPipeline` keeps every fitted number as plain JSON plus the booster as UBJ, so a stored
model is data, not code. `tune` measures the seed's full GridSearchCV against faster searches of
the same grid; `train` is the whole training step (split, tune, fit, calibrate, test).

Confidence has one meaning: the probability that the engagement tier assigned to a score is the
tier of the customer's (noisy) engagement label. With F the empirical CDF of calibration
residuals r = label - prediction (101 quantiles), the label of a customer scored s lies in tier
[lo, hi) with probability F(hi - s) - F(lo - s); the first tier's lower edge and the last tier's
upper edge are open (labels are clipped to [0, 1]), so F is 0 and 1 there. The residuals come
from a calibration slice of the training split that the booster did not see.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from itertools import product
from typing import Literal

import numpy as np
import polars as pl

from platform_assets.engagement.logic.scoring import ENGAGEMENT_TIERS, feature_matrix, tier_index
from platform_assets.engagement.logic.world import FEATURES, KEY, LABEL, PROTECTED
from platform_core.metrics import regression_metrics
from platform_core.progress import Log, Progress

GRID = {
    "n_estimators": [50, 100, 200],
    "max_depth": [3, 6, 9],
    "learning_rate": [0.01, 0.1, 0.3],
    "subsample": [0.8, 1.0],
    "colsample_bytree": [0.8, 1.0],
}
DEFAULT_SEARCH = "halving_early_stopping"  # within 0.0003 CV R² of the full grid at ~1/5 of its time: bench/engagement_search.py
SearchMethod = Literal["grid", "halving", "early_stopping", "halving_early_stopping"]
RESIDUAL_LEVELS = np.linspace(0.0, 1.0, 101)
PROGRESS_EVERY_S = 10.0  # at most one progress line of the search this often
TOP_FEATURES = 15


@dataclass
class EngagementPipeline:
    features: list[str]
    medians: list[float]
    selected: list[str]
    mean: list[float]
    scale: list[float]
    booster_ubj: bytes
    params: dict
    residual_quantiles: list[float] = field(default_factory=list)
    _booster: object = field(default=None, init=False, repr=False, compare=False)

    def booster(self, nthread: int = 2):
        """The XGBoost Booster, loaded once per instance."""
        import xgboost as xgb

        if self._booster is None:
            self._booster = xgb.Booster(model_file=bytearray(self.booster_ubj))
        self._booster.set_param({"nthread": nthread})
        return self._booster

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Selected columns of X, standardized, missing values as the standardized median (float32).

        Scaling first and filling NaN with (median - mean) / scale equals imputing first, in
        fewer passes over the matrix.
        """
        columns = [self.features.index(name) for name in self.selected]
        mean = np.asarray(self.mean, dtype=np.float32)
        scale = np.asarray(self.scale, dtype=np.float32)
        selected = np.asarray(X[:, columns], dtype=np.float32)  # fancy indexing copies: X is never modified
        selected -= mean
        selected /= scale
        filled = (np.asarray(self.medians, dtype=np.float32)[columns] - mean) / scale
        np.copyto(selected, np.broadcast_to(filled, selected.shape), where=np.isnan(selected))
        return selected

    def predict(self, X: np.ndarray, nthread: int = 2) -> np.ndarray:
        """Engagement in [0, 1] for rows of X (all `features` columns, in order)."""
        return np.clip(self.booster(nthread).inplace_predict(self.transform(X)), 0.0, 1.0)

    def confidence(self, scores: np.ndarray) -> np.ndarray:
        """P(assigned engagement tier == label's tier), from the calibration residual CDF (module docstring)."""
        quantiles = np.asarray(self.residual_quantiles)
        tier = tier_index(scores)
        lows = np.array([low for low, _, _ in ENGAGEMENT_TIERS])
        highs = np.array([high for _, high, _ in ENGAGEMENT_TIERS])
        below = np.where(tier == 0, 0.0, np.interp(lows[tier] - scores, quantiles, RESIDUAL_LEVELS))
        upto = np.where(tier == len(ENGAGEMENT_TIERS) - 1, 1.0, np.interp(highs[tier] - scores, quantiles, RESIDUAL_LEVELS))
        return np.clip(upto - below, 0.0, 1.0)

    def to_files(self) -> dict[str, bytes]:
        """{"pipeline.json": every fitted number, "model.ubj": the booster}; no pickle."""
        meta = {
            "features": self.features, "medians": self.medians, "selected": self.selected, "mean": self.mean,
            "scale": self.scale, "params": self.params, "residual_quantiles": self.residual_quantiles,
        }
        return {"pipeline.json": json.dumps(meta, indent=1).encode(), "model.ubj": bytes(self.booster_ubj)}

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> EngagementPipeline:
        return cls(**json.loads(files["pipeline.json"]), booster_ubj=bytes(files["model.ubj"]))


def split(y: np.ndarray, seed: int, test_share: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices, stratified by engagement quartile."""
    from sklearn.model_selection import train_test_split

    quartile = np.searchsorted(np.quantile(y, [0.25, 0.5, 0.75]), y, side="right")
    return train_test_split(np.arange(len(y)), test_size=test_share, random_state=seed, stratify=quartile)


def _booster_params(params: dict, seed: int, nthread: int) -> dict:
    rest = {key: value for key, value in params.items() if key != "n_estimators"}
    return {"objective": "reg:squarederror", "tree_method": "hist", "seed": seed, "nthread": nthread, **rest}


def _preprocess(X: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(medians of all columns, selected column indices in input order, mean, scale) fitted on X."""
    from sklearn.feature_selection import SelectKBest, f_regression

    medians = np.nanmedian(X, axis=0)
    imputed = np.where(np.isnan(X), medians, X)
    columns = np.flatnonzero(SelectKBest(f_regression, k=k).fit(imputed, y).get_support())
    mean = imputed[:, columns].mean(axis=0)
    scale = imputed[:, columns].std(axis=0)
    return medians, columns, mean, np.where(scale > 0, scale, 1.0)


def fit_pipeline(X_train: np.ndarray, y_train: np.ndarray, k: int, params: dict, seed: int, nthread: int) -> EngagementPipeline:
    """Impute, select k features, scale, boost `params["n_estimators"]` rounds (hist)."""
    import xgboost as xgb

    medians, columns, mean, scale = _preprocess(X_train, y_train, k)
    pipeline = EngagementPipeline(
        features=list(FEATURES), medians=[float(v) for v in medians], selected=[FEATURES[j] for j in columns],
        mean=[float(v) for v in mean], scale=[float(v) for v in scale], booster_ubj=b"", params=dict(params),
    )
    data = xgb.DMatrix(pipeline.transform(X_train), label=y_train, feature_names=pipeline.selected, nthread=nthread)
    booster = xgb.train(_booster_params(params, seed, nthread), data, num_boost_round=int(params["n_estimators"]))
    pipeline.booster_ubj = bytes(booster.save_raw("ubj"))
    return pipeline


def _sklearn_search(X, y, k, grid, seed, n_jobs, folds, halving: bool) -> dict:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.feature_selection import SelectKBest, f_regression
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, KFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBRegressor

    estimator = Pipeline([
        ("impute", SimpleImputer(strategy="median")),
        ("select", SelectKBest(f_regression, k=k)),
        ("scale", StandardScaler()),
        ("model", XGBRegressor(tree_method="hist", n_jobs=1, random_state=seed)),
    ])
    param_grid = {f"model__{name}": values for name, values in grid.items()}
    cv = KFold(folds, shuffle=True, random_state=seed)
    if halving:
        search = HalvingGridSearchCV(estimator, param_grid, factor=3, cv=cv, scoring="r2", n_jobs=n_jobs, refit=False, random_state=seed)
    else:
        search = GridSearchCV(estimator, param_grid, cv=cv, scoring="r2", n_jobs=n_jobs, refit=False)
    search.fit(X, y)
    fits = int(np.sum(search.n_candidates_)) * folds if halving else len(search.cv_results_["params"]) * folds
    return {
        "best_params": {name.removeprefix("model__"): value for name, value in search.best_params_.items()},
        "cv_r2": float(search.best_score_),
        "candidates": len(search.cv_results_["params"]) if not halving else int(search.n_candidates_[0]),
        "fits": fits,
    }


def _fold_curves(X, y, train_rows, valid_rows, k, combos, rounds, seed) -> np.ndarray:
    """Validation R² after every boosting round, one row per combo, for one fold (one thread)."""
    import xgboost as xgb

    medians, columns, mean, scale = _preprocess(X[train_rows], y[train_rows], k)

    def prepared(rows):
        return ((np.where(np.isnan(X[rows]), medians, X[rows])[:, columns] - mean) / scale).astype(np.float32)

    train = xgb.QuantileDMatrix(prepared(train_rows), label=y[train_rows], nthread=1)
    valid = xgb.DMatrix(prepared(valid_rows), label=y[valid_rows], nthread=1)
    variance = float(np.var(y[valid_rows]))
    curves = np.empty((len(combos), rounds))
    for i, combo in enumerate(combos):
        history: dict = {}
        xgb.train(
            _booster_params({**combo, "eval_metric": "rmse"}, seed, 1), train, num_boost_round=rounds,
            evals=[(valid, "valid")], evals_result=history, early_stopping_rounds=max(10, rounds // 10), verbose_eval=False,
        )
        rmse = np.asarray(history["valid"]["rmse"])
        curve = np.full(rounds, rmse[-1])  # stopped early: later rounds count as no better than the last
        curve[: len(rmse)] = rmse
        curves[i] = 1.0 - curve**2 / variance
    return curves


def stage_folds(folds: int, shares: list[float]) -> list[int]:
    """Folds a raced round uses: in proportion to its share of the rows, at least 2 (two
    validation folds per candidate), all of them in the last round."""
    return [folds if share >= 1 else min(folds, max(2, math.ceil(folds * share))) for share in shares]


def _early_stopping_search(X, y, k, grid, seed, n_jobs, folds, halving: bool, factor: int = 3, log: Log | None = None) -> dict:
    """Each (depth, rate, subsample, colsample) boosted once per fold up to max(n_estimators) rounds.

    The validation-fold error after every round is recorded, so the n_estimators axis costs one
    fit instead of three, and the best round count is read from the fold-averaged R² curve (any
    round up to the grid's largest, not only the grid's values). A fold's preprocessing and binned
    matrix are built once per task and shared by its candidates. Tasks (fold x depth, deepest
    first) run in `n_jobs` single-threaded processes, like GridSearchCV's fits: multi-threaded
    XGBoost on small matrices loses most of its time to thread synchronization.

    With `halving`, candidates are raced as in successive halving: all of them on 1/factor^2 of
    each fold's training rows, the best third on 1/factor, the best third of those on all rows
    (36 -> 12 -> 4 for the seed's grid); validation always uses the whole fold. The folds grow with
    the rows (`stage_folds`: 2, 2, 5 of 5): a fit on a ninth of the rows costs nearly as much as one
    on all of them (a deep tree's split search costs per node, features x bins, whatever its rows),
    so the first round's 36 candidates on every fold were most of the search (BENCHMARKS.md).
    Progress goes to `log` in fits as tasks finish (throttled); the time left assumes the fits to
    come take as long as those done, and the deepest trees go first, so it starts high and falls.
    """
    from joblib import Parallel, delayed
    from sklearn.model_selection import KFold

    rounds = max(grid["n_estimators"])
    others = [name for name in grid if name != "n_estimators"]
    combos = [dict(zip(others, values)) for values in product(*(grid[name] for name in others))]
    fold_rows = list(KFold(folds, shuffle=True, random_state=seed).split(X))
    rng = np.random.default_rng(seed)
    shuffled = [rng.permutation(train_rows) for train_rows, _ in fold_rows]
    stages = 1 + max(0, int(np.log(len(combos) / factor) // np.log(factor))) if halving else 1
    alive = list(range(len(combos)))
    sizes = [len(combos)]
    for _ in range(stages - 1):
        sizes.append(-(-sizes[-1] // factor))
    shares = [float(factor) ** (stage - stages + 1) for stage in range(stages)]
    used = stage_folds(folds, shares)
    planned = sum(size * n for size, n in zip(sizes, used))
    progress = Progress(log, "hyper-parameter search", planned, PROGRESS_EVERY_S)
    fits = 0
    with Parallel(n_jobs=n_jobs, return_as="generator") as parallel:
        for stage, (share, n_folds) in enumerate(zip(shares, used)):
            depths = sorted({combos[i]["max_depth"] for i in alive}, reverse=True)
            tasks = [
                ([i for i in alive if combos[i]["max_depth"] == depth], train_rows[: max(1, round(share * len(train_rows)))], valid_rows)
                for depth in depths for train_rows, (_, valid_rows) in zip(shuffled[:n_folds], fold_rows[:n_folds])
            ]
            outputs = parallel(
                delayed(_fold_curves)(X, y, train_rows, valid_rows, k, [combos[i] for i in members], rounds, seed)
                for members, train_rows, valid_rows in tasks
            )
            curves = np.zeros((len(combos), rounds))
            for output, (members, _, _) in zip(outputs, tasks):  # outputs first: the generator is run to its end
                curves[members] += output / n_folds
                fits += len(members)
                progress.advance(len(members), f"round {stage + 1}/{stages}: {len(alive)} candidates on {share:.0%} "
                                                f"of the training rows of {n_folds} folds, {fits}/{planned} fits")
            curves[np.setdiff1d(np.arange(len(combos)), alive)] = -np.inf
            if stage < stages - 1:
                alive = sorted(alive, key=lambda i: -curves[i].max())[: -(-len(alive) // factor)]
    best_combo, best_round = np.unravel_index(np.argmax(curves), curves.shape)
    return {
        "best_params": {"n_estimators": int(best_round) + 1, **combos[best_combo]},
        "cv_r2": float(curves[best_combo, best_round]),
        "candidates": len(combos),
        "fits": fits,
    }


def tune(X: np.ndarray, y: np.ndarray, method: SearchMethod = DEFAULT_SEARCH, seed: int = 7, n_jobs: int = 2, folds: int = 5,
         k: int = 45, grid: dict | None = None, log: Log | None = None) -> dict:
    """Best params of `grid` (default GRID) by `method`, with CV R², candidates, fits and seconds;
    what it does, how far it is (throttled) and what it found go to `log`."""
    grid = grid or GRID
    start = time.perf_counter()
    say = log or (lambda _line: None)
    say(f"hyper-parameter search ({method}) over {int(np.prod([len(v) for v in grid.values()]))} grid points, {folds} folds, "
        f"{len(y):,} rows" + (": scikit-learn's search reports nothing until it ends" if method in ("grid", "halving") else ""))
    if method in ("early_stopping", "halving_early_stopping"):
        result = _early_stopping_search(X, y, k, grid, seed, n_jobs, folds, halving=method == "halving_early_stopping", log=log)
    elif method in ("grid", "halving"):
        result = _sklearn_search(X, y, k, grid, seed, n_jobs, folds, halving=method == "halving")
    else:
        raise ValueError(f"unknown search method {method!r}")
    seconds = round(time.perf_counter() - start, 2)
    say(f"hyper-parameter search done in {seconds:.0f}s: {result['fits']} fits, CV R² {result['cv_r2']:.4f}, "
        f"best {result['best_params']}")
    return {"method": method, **result, "seconds": seconds}


def tier_accuracy(y: np.ndarray, pred: np.ndarray, confidence: np.ndarray) -> dict:
    """Mean confidence against the observed share of rows whose label tier is the predicted tier, overall and by confidence decile."""
    hit = tier_index(np.clip(y, 0.0, 1.0)) == tier_index(pred)
    edges = np.quantile(confidence, np.linspace(0.0, 1.0, 11)[1:-1])
    decile = np.searchsorted(edges, confidence, side="right")
    by_decile = [
        {"decile": d + 1, "rows": int(np.sum(decile == d)), "mean_confidence": round(float(confidence[decile == d].mean()), 4),
         "observed": round(float(hit[decile == d].mean()), 4)}
        for d in range(10) if np.any(decile == d)
    ]
    return {"rows": int(len(y)), "mean_confidence": float(confidence.mean()), "observed": float(hit.mean()), "hits": int(hit.sum()),
            "by_decile": by_decile}


@dataclass
class TestSplit:
    """What the gates need from the held-out test rows."""

    ids: np.ndarray  # customer ids of the test rows, so a champion is scored on the same rows
    y: np.ndarray
    pred: np.ndarray
    confidence: np.ndarray
    groups: dict[str, np.ndarray]
    features: dict[str, np.ndarray]  # selected feature columns, as seen by the model (before imputation)


@dataclass
class TrainedEngagement:
    pipeline: EngagementPipeline
    metrics: dict
    search: dict
    test: TestSplit
    selected: list[str]
    feature_importance: list[dict]


def feature_importance(pipeline: EngagementPipeline, top: int = TOP_FEATURES) -> list[dict]:
    """Top features by share of total gain."""
    gain = pipeline.booster().get_score(importance_type="total_gain")
    total = sum(gain.values()) or 1.0
    ranked = sorted(gain.items(), key=lambda item: -item[1])[:top]
    return [{"feature": name, "gain_share": round(value / total, 4)} for name, value in ranked]


def search_rows(fit_rows: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """The rows the search tunes on: all of `fit_rows`, or `max_rows` of them drawn at random
    (seeded). The grid's validation curves are flat past ~50,000 rows at this noise level, so a
    bigger month buys the final fit more rows, not the search (BENCHMARKS.md)."""
    if max_rows is None or len(fit_rows) <= max_rows:
        return fit_rows
    return np.sort(np.random.default_rng(seed).choice(fit_rows, max_rows, replace=False))


def train(labelled: pl.DataFrame, k: int = 45, seed: int = 7, search: SearchMethod = DEFAULT_SEARCH, nthread: int = 2,
          calibration_share: float = 0.15, grid: dict | None = None, folds: int = 5, log: Log | None = None,
          search_max_rows: int | None = None) -> TrainedEngagement:
    """Split 80/20 by quartile, tune on the training split less a calibration slice (at most
    `search_max_rows` of it), fit on all of that slice's complement, calibrate, test; the
    search's progress goes to `log`."""
    X = feature_matrix(labelled)
    y = labelled[LABEL].to_numpy().astype(np.float64)
    train_rows, test_rows = split(y, seed)
    fit_part, calibration_part = split(y[train_rows], seed + 1, calibration_share)
    fit_rows, calibration_rows = train_rows[fit_part], train_rows[calibration_part]

    tuned_on = search_rows(fit_rows, search_max_rows, seed)
    searched = {**tune(X[tuned_on], y[tuned_on], search, seed, nthread, folds, k, grid, log), "rows": int(len(tuned_on))}
    pipeline = fit_pipeline(X[fit_rows], y[fit_rows], k, searched["best_params"], seed, nthread)
    residuals = y[calibration_rows] - pipeline.predict(X[calibration_rows], nthread)
    pipeline.residual_quantiles = [float(v) for v in np.quantile(residuals, RESIDUAL_LEVELS)]

    pred = pipeline.predict(X[test_rows], nthread).astype(np.float64)
    metrics = regression_metrics(y[test_rows], pred)
    test = TestSplit(
        ids=labelled[KEY].to_numpy()[test_rows], y=y[test_rows], pred=pred, confidence=pipeline.confidence(pred),
        groups={name: labelled[name].to_numpy()[test_rows] for name in PROTECTED},
        features={name: X[test_rows, FEATURES.index(name)] for name in pipeline.selected},
    )
    return TrainedEngagement(pipeline, metrics, searched, test, list(pipeline.selected), feature_importance(pipeline))
