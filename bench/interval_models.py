"""Interval models compared on the same data: coverage, width and cost of an 80% interval.

    python bench/interval_models.py --rows 1000000      (uses bench/cache/<rows>/, run bench/run.py first)

Every method is calibrated the same way on the calibration split (conformal), then judged on
the test split: the quantile regression forest of the reference, XGBoost and LightGBM quantile
objectives (CQR), and the normalized-conformal error-scale model the platform ships.
Interval cost is measured on the interval model alone; the point model's cost is the same for
the methods that need it (all but the forests and quantile models, which give no point estimate
the platform uses).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_assets.predict_age.logic.features import NameEncoder, feature_matrix, feature_names  # noqa: E402
from platform_assets.predict_age.logic.models import (  # noqa: E402
    conformal_margin,
    conformal_quantile,
    normalized_bounds,
    predict_booster,
    predict_scale,
    train_xgboost,
)
from platform_assets.predict_age.logic.training import XGBoostSettings  # noqa: E402
from platform_core.metrics import interval_metrics  # noqa: E402
from platform_core.periods import Quarter  # noqa: E402
from platform_core.storage import DataLayout  # noqa: E402

NOMINAL = 0.8


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def rate(predict, X: np.ndarray, repeat: int = 3) -> float:
    """Rows per second of `predict` on X (best of `repeat`)."""
    best = min(timed(predict, X)[1] for _ in range(repeat))
    return len(X) / best


def cqr(lower_upper, X, y) -> tuple[float, dict]:
    lo, hi = lower_upper(X["calibration"])
    margin = conformal_margin(y["calibration"], lo, hi, NOMINAL)
    lo, hi = lower_upper(X["test"])
    return margin, interval_metrics(y["test"], lo - margin, hi + margin)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--forest-train-rows", type=int, default=50_000,
                        help="the forest is trained on at most this many rows (its cost grows fast)")
    args = parser.parse_args(argv)
    layout = DataLayout.at(ROOT / "bench" / "cache" / str(args.rows))
    frame = pl.read_parquet(layout.table("predict_age", "training_features", Quarter.parse("2025q3")) / "training_features.parquet")
    split = {k: frame.filter(pl.col("split") == k) for k in ("train", "validation", "calibration", "test")}
    features = feature_names(False)
    y = {k: v["existing_age"].to_numpy().astype(np.float32) for k, v in split.items()}
    encoder = NameEncoder.fit(split["train"]["first_name"], y["train"])
    X = {k: feature_matrix(v, encoder, features) for k, v in split.items()}
    X_cost = np.tile(X["test"], (max(1, 200_000 // len(X["test"])), 1))
    settings = XGBoostSettings()
    results = []

    point, point_s = timed(train_xgboost, X["train"], y["train"], X["validation"], y["validation"],
                           objective="reg:squarederror", params=settings.params(), rounds=settings.rounds,
                           early_stopping=settings.early_stopping)
    point_rate = rate(lambda M: predict_booster(point, M, point.best_iteration), X_cost)
    results.append({"method": "point model (XGBoost, for reference)", "train_s": round(point_s, 2),
                    "interval_rows_per_s": round(point_rate)})

    # the platform's method: normalized conformal with an error-scale model
    abs_err = {k: np.abs(y[k] - predict_booster(point, X[k], point.best_iteration)) for k in X}
    scale, scale_s = timed(train_xgboost, X["train"], abs_err["train"], X["validation"], abs_err["validation"],
                           objective="reg:squarederror", params=settings.scale_params(), rounds=settings.scale_rounds,
                           early_stopping=settings.early_stopping)
    s_cal, s_test = (predict_scale(scale, X[k], scale.best_iteration) for k in ("calibration", "test"))
    factor = conformal_quantile(abs_err["calibration"] / s_cal, NOMINAL)
    lo, hi = normalized_bounds(predict_booster(point, X["test"], point.best_iteration), s_test, factor)
    results.append({"method": "error-scale model, normalized conformal (shipped)", "train_s": round(scale_s, 2),
                    **interval_metrics(y["test"], lo, hi),
                    "interval_rows_per_s": round(rate(lambda M: predict_scale(scale, M, scale.best_iteration), X_cost))})

    for label, depth, eta, rounds in (("XGBoost quantile 0.1/0.9, depth 6 (before)", 6, 0.2, 300),
                                      ("XGBoost quantile 0.1/0.9, depth 4", 4, 0.3, 60)):
        params = {**settings.params(), "max_depth": depth, "eta": eta}
        model, train_s = timed(train_xgboost, X["train"], y["train"], X["validation"], y["validation"],
                               objective="reg:quantileerror", params=params, rounds=rounds, early_stopping=20,
                               quantiles=(0.1, 0.9))

        def bounds(M, model=model):
            q = predict_booster(model, M, model.best_iteration)
            return np.minimum(q[:, 0], q[:, 1]), np.maximum(q[:, 0], q[:, 1])

        _, metrics = cqr(bounds, X, y)
        results.append({"method": label + ", CQR", "train_s": round(train_s, 2), **metrics,
                         "interval_rows_per_s": round(rate(lambda M: bounds(M), X_cost))})

    import lightgbm as lgb

    def lgb_quantile(alpha):
        model = lgb.LGBMRegressor(objective="quantile", alpha=alpha, n_estimators=300, learning_rate=0.1,
                                  num_leaves=63, n_jobs=2, verbose=-1)
        return model.fit(X["train"], y["train"], eval_set=[(X["validation"], y["validation"])],
                         callbacks=[lgb.early_stopping(20, verbose=False)])

    (low, high), lgb_s = timed(lambda: (lgb_quantile(0.1), lgb_quantile(0.9)))

    def lgb_bounds(M):
        a, b = low.predict(M), high.predict(M)
        return np.minimum(a, b), np.maximum(a, b)

    _, metrics = cqr(lgb_bounds, X, y)
    results.append({"method": "LightGBM quantile 0.1/0.9, CQR", "train_s": round(lgb_s, 2), **metrics,
                    "interval_rows_per_s": round(rate(lgb_bounds, X_cost))})

    from quantile_forest import RandomForestQuantileRegressor

    n = min(args.forest_train_rows, len(X["train"]))
    forest, forest_s = timed(RandomForestQuantileRegressor(n_estimators=100, min_samples_leaf=5, n_jobs=2,
                                                           random_state=7).fit, np.nan_to_num(X["train"][:n], nan=-1),
                             y["train"][:n])

    def forest_bounds(M):
        q = forest.predict(np.nan_to_num(M, nan=-1), quantiles=[0.1, 0.9])
        return q[:, 0], q[:, 1]

    _, metrics = cqr(forest_bounds, X, y)
    results.append({"method": f"quantile regression forest (reference), 100 trees, {n:,} training rows, CQR",
                    "train_s": round(forest_s, 2), **metrics,
                    "interval_rows_per_s": round(rate(forest_bounds, X["test"][:20_000], repeat=1))})

    for r in results:
        if r.get("interval_rows_per_s"):
            r["seconds_per_million_rows"] = round(1e6 / r["interval_rows_per_s"], 2)
    out = ROOT / "bench" / "results" / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-intervals-{args.rows}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "test_rows": int(len(y["test"])), "nominal": NOMINAL,
                               "results": results}, indent=2) + "\n")
    for r in results:
        print(r)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
