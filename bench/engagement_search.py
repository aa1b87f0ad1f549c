"""Hyperparameter search for the engagement model: the seed's full GridSearchCV against faster searches.

    python bench/engagement_search.py --rows 100000 --seed 7 --methods grid,halving,early_stopping,halving_early_stopping
    python bench/engagement_search.py --methods halving,early_stopping,halving_early_stopping --include bench/results/<grid run>.json

Every method searches the seed's grid (3x3x3x2x2 = 108 candidates, 5-fold CV R²; the seed's
"162 candidates, 810 fits" miscounted it) on the same rows train()
tunes on (the training split less its calibration slice), then the best params are refit on those
rows and scored on the 20% test split. `--include` adds the methods of an earlier run on the same
data (e.g. the 540-fit grid, run alone in the background) to the table and the JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_assets.engagement.logic.model import fit_pipeline, search_rows, split, tune  # noqa: E402
from platform_assets.engagement.logic.scoring import feature_matrix  # noqa: E402
from platform_assets.engagement.logic.world import LABEL, generate_month  # noqa: E402
from platform_core.metrics import regression_metrics  # noqa: E402

MONTH = dt.date(2025, 1, 1)
CALIBRATION_SHARE = 0.15  # as train()'s default


def run_method(method: str, X: np.ndarray, y: np.ndarray, fit_rows, test_rows, seed: int, search_max_rows: int | None) -> dict:
    tuned_on = search_rows(fit_rows, search_max_rows, seed)
    result = {**tune(X[tuned_on], y[tuned_on], method, seed=seed, n_jobs=2), "search_rows": int(len(tuned_on))}
    start = time.perf_counter()
    pipeline = fit_pipeline(X[fit_rows], y[fit_rows], 45, result["best_params"], seed, nthread=2)
    refit_seconds = time.perf_counter() - start
    test = regression_metrics(y[test_rows], pipeline.predict(X[test_rows]).astype(np.float64))
    return {**result, "refit_seconds": round(refit_seconds, 2), "test_r2": round(test["r2"], 4), "test_rmse": round(test["rmse"], 4),
            "cv_r2": round(result["cv_r2"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--methods", default="grid,halving,early_stopping,halving_early_stopping")
    parser.add_argument("--search-max-rows", type=int, default=None,
                        help="tune on at most this many of the training rows, as train() does; refit on all of them")
    parser.add_argument("--include", type=Path, action="append", default=[], help="earlier result JSON whose methods join the table")
    args = parser.parse_args()

    labelled, _, _ = generate_month(MONTH, args.rows, 0, args.seed)
    X = feature_matrix(labelled)
    y = labelled[LABEL].to_numpy().astype(np.float64)
    train_rows, test_rows = split(y, args.seed)
    fit_part, _ = split(y[train_rows], args.seed + 1, CALIBRATION_SHARE)
    fit_rows = train_rows[fit_part]

    results = []
    for method in args.methods.split(","):
        print(f"{method}: searching on {min(len(fit_rows), args.search_max_rows or len(fit_rows)):,} of {len(fit_rows):,} rows ...", flush=True)
        results.append({**run_method(method, X, y, fit_rows, test_rows, args.seed, args.search_max_rows), "run": "this",
                        "load_average_after": [round(v, 2) for v in os.getloadavg()]})
    for path in args.include:
        earlier = json.loads(path.read_text())
        if (earlier["rows"], earlier["seed"]) != (args.rows, args.seed):
            raise SystemExit(f"{path} was run on other data ({earlier['rows']} rows, seed {earlier['seed']})")
        results += [{**r, "run": path.name} for r in earlier["results"] if r.get("run", "this") == "this"]

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"{stamp}-engagement-search.json"
    report = {
        "command": " ".join(["python", *sys.argv]), "machine": f"{os.cpu_count()} cores", "rows": args.rows, "seed": args.seed,
        "search_rows": int(len(fit_rows)), "test_rows": int(len(test_rows)), "results": results,
    }
    out.write_text(json.dumps(report, indent=1) + "\n")

    print(f"\n{'method':<23}{'fits':>6}{'seconds':>9}{'cv R2':>8}{'test R2':>9}  best params")
    for r in results:
        print(f"{r['method']:<23}{r['fits']:>6}{r['seconds']:>9.1f}{r['cv_r2']:>8.4f}{r['test_r2']:>9.4f}  {r['best_params']}")
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
