"""Readmission tuning: the seed's RandomizedSearchCV against the fast `halving` search, same budget, same data.

    .venv/bin/python bench/readmission_search.py                        # the default world, both strategies
    .venv/bin/python bench/readmission_search.py --strategies halving   # the fast search only

Data is the job's own world (logic/world.py, `generate_world(rows, seed)`) taken through the job's
silver and gold stages into a cached warehouse (bench/cache/readmission/world-<rows>-<seed>/, built
once, ~1.5 min), then cut into the config's windows by `load_windows`: the rows the model asset
trains on, with the world's true probabilities for the best achievable AUC. For each strategy the
grouped folds are computed once (timed), then each algorithm is tuned with the config's budget
(20 candidates, 5 folds grouped by patient, ROC AUC), its threshold chosen on out-of-fold
predictions and refitted, timed together in wall and CPU seconds (this process and its workers;
on a shared machine CPU seconds are the cost, wall time also measures the neighbours), with the
load average at each step; then test and OOT AUC against the best achievable, and the scoring
throughput of every model (preprocessing + prediction, and the whole score table) on
`--score-rows` feature rows. Writes bench/results/<stamp>-readmission-search.{json,md}.
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

import polars as pl

from platform_assets.readmission.logic import evaluation, training
from platform_assets.readmission.logic.gold import build_feature_store, build_label_store
from platform_assets.readmission.logic.model_config import load_model_config
from platform_assets.readmission.logic.model_run import truth_of
from platform_assets.readmission.logic.preprocessing import fit_preprocessor, load_windows
from platform_assets.readmission.logic.schema import LABEL
from platform_assets.readmission.logic.scoring import score_frame
from platform_assets.readmission.logic.silver import build_silver
from platform_assets.readmission.logic.world import deliver_months
from platform_core.metrics import paired_auc_difference
from platform_core.reports import markdown_table
from platform_core.storage import DataLayout


def cpu_seconds() -> float:
    """CPU time of this process and its live workers: the cost on a machine shared with others,
    where wall time mostly measures the neighbours."""
    import psutil

    me = psutil.Process()
    return sum(sum(p.cpu_times()[:2]) for p in [me, *me.children(recursive=True)] if p.is_running())


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def gold_world(rows: int, seed: int, config) -> DataLayout:
    """The world delivered and taken through silver and gold, once per (rows, seed)."""
    layout = DataLayout.at(ROOT / "bench" / "cache" / "readmission" / f"world-{rows}-{seed}")
    months = config.all_months()
    if not (layout.root / "built").exists():
        deliver_months(layout, rows=rows, seed=seed, first=months[0], last=months[-1])
        for month in months:
            build_silver(layout, month, threads=2)
            build_feature_store(layout, month, threads=2)
            build_label_store(layout, month, threads=2)
        (layout.root / "built").write_text(f"{months[0]}..{months[-1]}\n")
    return layout


def timed(function, repeats: int = 3) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def scoring_throughput(model, features: pl.DataFrame, config) -> dict:
    """Rows per second of preprocessing + prediction, and of the whole score table (bands included)."""
    predict = timed(lambda: model.predict_proba(features))
    table = timed(lambda: score_frame(model, features, config.risk_bands, "bench", "2026-01-01T00:00:00+00:00"))
    return {"rows": len(features), "predict_seconds": round(predict, 3), "predict_rows_per_second": round(len(features) / predict),
            "score_table_seconds": round(table, 3), "score_table_rows_per_second": round(len(features) / table),
            "load_average": load()}


def compare(models: dict[str, dict], frames: dict) -> list[dict]:
    """Per algorithm and window: the fast search's AUC minus the seed search's, with its 95% interval."""
    if not {"random", "halving"} <= models.keys():
        return []
    rows = []
    for algorithm in models["halving"]:
        for window in ("test", "oot"):
            frame = frames[window]
            y = frame[LABEL].to_numpy()
            seed_like, fast = (models[s][algorithm].model.predict_proba(frame) for s in ("random", "halving"))
            rows.append({"algorithm": algorithm, "window": window, **paired_auc_difference(y, seed_like, fast)})
    return rows


def run_strategy(strategy: str, frames: dict, preprocessor, config, truth, n_jobs: int) -> tuple[dict, dict]:
    held_out = {"test": frames["test"], "oot": frames["oot"]}
    wall, cpu = time.perf_counter(), cpu_seconds()
    folds = training.train_folds(frames["train"], config)
    run = {"strategy": strategy, "folds_seconds": round(time.perf_counter() - wall, 2), "folds_cpu_seconds": round(cpu_seconds() - cpu, 1),
           "load_average_before": load(), "algorithms": []}
    models = {}
    for algorithm in config.algorithms:
        print(f"{strategy} {algorithm}: tuning on {len(frames['train']):,} rows (load {load()}) ...", flush=True)
        cpu = cpu_seconds()
        trained = training.train_algorithm(algorithm, frames["train"], preprocessor, config, n_jobs, strategy, folds)
        models[algorithm] = trained
        run["algorithms"].append({
            "algorithm": algorithm, "fit_seconds": trained.fit_seconds, "search_seconds": trained.search["seconds"],
            "cpu_seconds": round(cpu_seconds() - cpu, 1), "fits": trained.search["fits"],
            "trees_grown": trained.search.get("trees_grown"), "cv_auc": round(trained.cv_auc, 4), "oof_auc": round(trained.oof_auc, 4),
            "threshold": round(trained.model.threshold, 4), "best_params": trained.params,
            **({"rungs": trained.search["rungs"]} if "rungs" in trained.search else {}), "load_average_after": load()})
    start, cpu = time.perf_counter(), cpu_seconds()
    result = evaluation.evaluate_models({a: t.model for a, t in models.items()}, held_out, config, truth)
    run["evaluation_seconds"], run["evaluation_cpu_seconds"] = round(time.perf_counter() - start, 2), round(cpu_seconds() - cpu, 1)
    for row in run["algorithms"]:
        for metrics in result["metrics"]:
            if metrics["algorithm"] == row["algorithm"]:
                row[f"{metrics['window']}_auc"] = metrics["auc_roc"]
                row[f"{metrics['window']}_auc_gap"] = metrics.get("auc_gap")
    run["tune_and_evaluate_seconds"] = round(run["folds_seconds"] + sum(r["fit_seconds"] for r in run["algorithms"])
                                             + run["evaluation_seconds"], 1)
    run["tune_and_evaluate_cpu_seconds"] = round(run["folds_cpu_seconds"] + sum(r["cpu_seconds"] for r in run["algorithms"])
                                                 + run["evaluation_cpu_seconds"], 1)
    run["load_average_after"] = load()
    run["best_achievable_auc"] = result["best_achievable_auc"]
    run["champion_on_test_auc"] = max(run["algorithms"], key=lambda r: r["test_auc"])["algorithm"]
    return run, models


def markdown(report: dict) -> str:
    windows = ", ".join(f"{k} {v:,}" for k, v in report["windows"].items())
    lines = [f"# readmission tuning: seed search against the fast search ({report['stamp']})", "",
             (f"`{report['command']}`: {report['machine']}, world of {report['rows']:,} encounters (seed {report['seed']}), "
              f"windows {windows}; budget {report['budget']}."), ""]
    for run in report["runs"]:
        best = run["best_achievable_auc"]
        lines += [(f"## {run['strategy']}: tuned and evaluated in {run['tune_and_evaluate_seconds']} s wall, "
                   f"{run['tune_and_evaluate_cpu_seconds']} CPU-s (load {run['load_average_before']} -> {run['load_average_after']})"), "",
                  (f"Folds {run['folds_seconds']} s, evaluation {run['evaluation_seconds']} s; best achievable AUC "
                   f"test {best.get('test')}, OOT {best.get('oot')}; champion on test AUC: {run['champion_on_test_auc']}."), "",
                  markdown_table([{k: r.get(k) for k in ("algorithm", "fit_seconds", "cpu_seconds", "fits", "trees_grown", "cv_auc",
                                                          "oof_auc", "test_auc", "oot_auc", "test_auc_gap", "oot_auc_gap",
                                                          "load_average_after")} for r in run["algorithms"]]), ""]
        if "scoring" in run:
            lines += ["Scoring throughput (median of 3):", "",
                      markdown_table([{"algorithm": a, **s} for a, s in run["scoring"].items()]), ""]
    if report["halving_minus_random_auc"]:
        lines += ["## AUC of the fast search minus the seed's, same rows (paired DeLong 95% interval)", "",
                  markdown_table(report["halving_minus_random_auc"]), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=75_000, help="encounters 1999-2008 in the world (the default world's size)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strategies", default="random,halving")
    parser.add_argument("--score-rows", type=int, default=500_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    config = load_model_config()
    layout = gold_world(args.rows, args.seed, config)
    frames, _ = load_windows(layout, config)
    truth = truth_of(layout, [m for name, w in config.windows.items() if name != "train" for m in w.months()])
    preprocessor = fit_preprocessor(frames["train"], config.windows.train)
    features = pl.concat([frames["test"], frames["oot"]]).sample(args.score_rows, with_replacement=True, seed=args.seed)

    runs, models = [], {}
    for strategy in args.strategies.split(","):
        run, models[strategy] = run_strategy(strategy, frames, preprocessor, config, truth, args.n_jobs)
        if args.score_rows and strategy == "halving":
            run["scoring"] = {a: scoring_throughput(t.model, features, config) for a, t in models[strategy].items()}
        runs.append(run)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    report = {"command": " ".join([".venv/bin/python", *sys.argv]), "stamp": stamp, "machine": f"{os.cpu_count()} cores",
              "rows": args.rows, "seed": args.seed, "windows": {k: len(v) for k, v in frames.items()},
              "budget": f"{config.search.candidates} candidates x {config.search.folds} folds grouped by patient, ROC AUC",
              "runs": runs, "halving_minus_random_auc": compare(models, frames)}
    out = ROOT / "bench" / "results" / f"{stamp}-readmission-search"
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report) + "\n")

    print(f"\n{'strategy':<9}{'algorithm':<21}{'fits':>5}{'wall s':>8}{'cpu s':>8}{'cv AUC':>8}{'test AUC':>9}{'OOT AUC':>9}")
    for run in runs:
        for r in run["algorithms"]:
            print(f"{run['strategy']:<9}{r['algorithm']:<21}{r['fits']:>5}{r['fit_seconds']:>8.1f}{r['cpu_seconds']:>8.1f}"
                  f"{r['cv_auc']:>8.4f}{r['test_auc']:>9.4f}{r['oot_auc']:>9.4f}")
        print(f"{run['strategy']:<9}{'tuned + evaluated':<21}{'':>5}{run['tune_and_evaluate_seconds']:>8.1f}"
              f"{run['tune_and_evaluate_cpu_seconds']:>8.1f}   best achievable AUC {run['best_achievable_auc']}")
        for algorithm, s in run.get("scoring", {}).items():
            print(f"{'':<9}{algorithm} scoring: {s['predict_rows_per_second']:,} rows/s predicted, "
                  f"{s['score_table_rows_per_second']:,} rows/s as the score table")
    for row in report["halving_minus_random_auc"]:
        print(f"halving - random AUC {row['algorithm']:<20} {row['window']:<5} {row['difference']:+.4f} [{row['low']:+.4f}, {row['high']:+.4f}]")
    print(f"\nwrote {out.relative_to(ROOT)}.json and .md")


if __name__ == "__main__":
    main()
