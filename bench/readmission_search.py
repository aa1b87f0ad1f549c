"""Readmission tuning: the seed's RandomizedSearchCV against successive halving, same budget, same data.

    python bench/readmission_search.py --rows 72000 --seed 7 --strategies halving,random

Rows come from the modelling tests' generator (tests/readmission/helpers.py: gold-shaped rows
with a known true probability), cut into the config's windows (72,000 encounters gives ~50,000
training rows). For each strategy and algorithm: the search (20 candidates, 5 folds grouped by
patient, ROC AUC), out-of-fold predictions for the threshold and the refit, timed together; then
test and OOT AUC and the best achievable AUC, the evaluation's time, and XGBoost scoring
throughput (preprocessing + inplace_predict) on `--score-rows` feature rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_assets.readmission.logic import evaluation, training
from platform_assets.readmission.logic.model_config import load_model_config
from platform_assets.readmission.logic.preprocessing import fit_preprocessor
from platform_assets.readmission.logic.schema import TRUE_PROBABILITY
from tests.readmission.helpers import make_encounters, windows


def cpu_seconds() -> float:
    """CPU time of this process and its live workers: the cost on a machine shared with others,
    where wall time mostly measures the neighbours."""
    import psutil

    me = psutil.Process()
    return sum(sum(p.cpu_times()[:2]) for p in [me, *me.children(recursive=True)] if p.is_running())


def scoring_throughput(model, rows: int, seed: int, repeats: int = 3) -> dict:
    frame = make_encounters(rows, seed=seed + 1)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(frame)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {"rows": rows, "seconds_median": round(median, 3), "seconds": [round(s, 3) for s in seconds],
            "rows_per_second": round(rows / median)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=72_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strategies", default="halving,random")
    parser.add_argument("--score-rows", type=int, default=500_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    config = load_model_config()
    encounters = make_encounters(args.rows, seed=args.seed)
    frames = windows(encounters, config)
    held_out = {"test": frames["test"], "oot": frames["oot"]}
    truth = encounters.select("encounter_id", TRUE_PROBABILITY)
    preprocessor = fit_preprocessor(frames["train"], config.windows.train)

    runs = []
    for strategy in args.strategies.split(","):
        models, rows = {}, []
        for algorithm in config.algorithms:
            print(f"{strategy} {algorithm}: tuning on {len(frames['train']):,} rows ...", flush=True)
            cpu_before = cpu_seconds()
            trained = training.train_algorithm(algorithm, frames["train"], preprocessor, config, args.n_jobs, strategy)
            cpu = cpu_seconds() - cpu_before
            models[algorithm] = trained
            rows.append({"algorithm": algorithm, "fit_seconds": trained.fit_seconds, "search_seconds": trained.search["seconds"],
                         "cpu_seconds": round(cpu, 1), "fits": trained.search["fits"], "full_size_fits": trained.search["full_size_fits"],
                         "cv_auc": round(trained.cv_auc, 4), "best_params": trained.params,
                         "load_average_after": [round(v, 2) for v in os.getloadavg()]})
        start = time.perf_counter()
        result = evaluation.evaluate_models({a: t.model for a, t in models.items()}, held_out, config, truth)
        evaluation_seconds = round(time.perf_counter() - start, 2)
        for row in rows:
            for metrics in result["metrics"]:
                if metrics["algorithm"] == row["algorithm"]:
                    row[f"{metrics['window']}_auc"] = metrics["auc_roc"]
                    row[f"{metrics['window']}_auc_gap"] = metrics.get("auc_gap")
        run = {"strategy": strategy, "algorithms": rows, "evaluation_seconds": evaluation_seconds,
               "tune_and_evaluate_seconds": round(sum(r["fit_seconds"] for r in rows) + evaluation_seconds, 1),
               "best_achievable_auc": result["best_achievable_auc"]}
        if "xgboost" in models and args.score_rows:
            run["xgboost_scoring"] = scoring_throughput(models["xgboost"].model, args.score_rows, args.seed)
        runs.append(run)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"{stamp}-readmission-search.json"
    report = {"command": " ".join(["python", *sys.argv]), "machine": f"{os.cpu_count()} cores", "rows": args.rows, "seed": args.seed,
              "windows": {k: len(v) for k, v in frames.items()}, "runs": runs}
    out.write_text(json.dumps(report, indent=1) + "\n")

    print(f"\n{'strategy':<9}{'algorithm':<21}{'fits':>5}{'seconds':>9}{'cpu s':>8}{'cv AUC':>8}{'test AUC':>9}{'OOT AUC':>9}")
    for run in runs:
        for r in run["algorithms"]:
            print(f"{run['strategy']:<9}{r['algorithm']:<21}{r['fits']:>5}{r['fit_seconds']:>9.1f}{r['cpu_seconds']:>8.1f}{r['cv_auc']:>8.4f}"
                  f"{r['test_auc']:>9.4f}{r['oot_auc']:>9.4f}")
        print(f"{run['strategy']:<9}{'tuned + evaluated':<21}{'':>5}{run['tune_and_evaluate_seconds']:>9.1f}"
              f"   best achievable AUC {run['best_achievable_auc']}")
        if "xgboost_scoring" in run:
            print(f"{'':<9}xgboost scoring: {run['xgboost_scoring']['rows_per_second']:,} rows/s on {args.score_rows:,} rows")
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
