"""Throughput of the engagement scoring path against the booster alone.

    python bench/engagement_scoring.py --rows 1000000,5000000 --params '{"n_estimators": 200, ...}'

One pipeline is fit on 68,000 labelled rows (seed 7) with the given params (default: the search's
pick on 100k rows). For each size, new customers are generated, then timed: the whole path
(feature matrix from the frame, impute/select/scale, predict, confidence, tiers, churn, and a
Parquet file written with polars), each stage of it, and bare `booster.inplace_predict` on the
already prepared matrix (the limit the path can approach).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_assets.engagement.logic.model import fit_pipeline, split  # noqa: E402
from platform_assets.engagement.logic.scoring import feature_matrix, score_customers  # noqa: E402
from platform_assets.engagement.logic.world import LABEL, generate_month  # noqa: E402

MONTH = dt.date(2025, 1, 1)
DEFAULT_PARAMS = {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.8}


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def measure(pipeline, customers, directory: Path, repeat: int) -> dict:
    def whole_path():
        scores = score_customers(pipeline, customers, "bench", "2025-01-31T00:00:00Z")
        scores.write_parquet(directory / "scores.parquet")
        return scores

    whole = min(timed(whole_path)[1] for _ in range(repeat))
    X, matrix_s = timed(feature_matrix, customers)
    prepared, transform_s = timed(pipeline.transform, X)
    booster = pipeline.booster()
    predict_s = min(timed(booster.inplace_predict, prepared)[1] for _ in range(repeat))
    scores, score_s = timed(score_customers, pipeline, customers, "bench", "2025-01-31T00:00:00Z")
    _, write_s = timed(scores.write_parquet, directory / "scores.parquet")
    rows = len(customers)
    return {
        "rows": rows,
        "path_seconds": round(whole, 3), "path_customers_per_s": round(rows / whole),
        "booster_seconds": round(predict_s, 3), "booster_customers_per_s": round(rows / predict_s),
        "stages_seconds": {
            "feature_matrix": round(matrix_s, 3), "impute_select_scale": round(transform_s, 3), "booster_predict": round(predict_s, 3),
            "post_processing": round(score_s - matrix_s - transform_s - predict_s, 3), "write_parquet": round(write_s, 3),
        },
        "parquet_mb": round((directory / "scores.parquet").stat().st_size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,5000000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--params", type=json.loads, default=DEFAULT_PARAMS)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    labelled, _, _ = generate_month(MONTH, 100_000, 0, args.seed)
    X = feature_matrix(labelled)
    y = labelled[LABEL].to_numpy().astype(np.float64)
    train_rows, _ = split(y, args.seed)
    fit_part, calibration_part = split(y[train_rows], args.seed + 1, 0.15)
    pipeline = fit_pipeline(X[train_rows[fit_part]], y[train_rows[fit_part]], 45, args.params, args.seed, nthread=2)
    residuals = y[train_rows[calibration_part]] - pipeline.predict(X[train_rows[calibration_part]])
    pipeline.residual_quantiles = [float(v) for v in np.quantile(residuals, np.linspace(0, 1, 101))]

    results = []
    with tempfile.TemporaryDirectory() as directory:
        for rows in [int(r) for r in args.rows.split(",")]:
            _, customers, _ = generate_month(MONTH, 0, rows, args.seed + 1)
            results.append(measure(pipeline, customers, Path(directory), args.repeat))
            del customers
            r = results[-1]
            print(f"{r['rows']:>10,} rows: path {r['path_seconds']:.2f} s = {r['path_customers_per_s']:,}/s; "
                  f"booster alone {r['booster_seconds']:.2f} s = {r['booster_customers_per_s']:,}/s; stages {r['stages_seconds']}", flush=True)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"{stamp}-engagement-scoring.json"
    out.write_text(json.dumps({
        "command": " ".join(["python", *sys.argv]), "machine": f"{os.cpu_count()} cores", "params": args.params,
        "selected_features": len(pipeline.selected), "load_average": [round(v, 2) for v in os.getloadavg()], "results": results,
    }, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
