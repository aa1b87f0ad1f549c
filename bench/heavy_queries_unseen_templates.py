"""heavy_queries: recall on query templates the model never saw, against the same rows when seen.

    python bench/heavy_queries_unseen_templates.py --corpus-cache /tmp/hqx/fresh --seeds 7 31337 424242 [--groups 5]

On the measured corpus' log every test-day text also ran on training days, so the pipeline's test
figures measure recognising known texts at new costs. Here, for each seed, the log is generated with
that seed and the TPC templates dealt into `--groups` groups with it; for each group, every query of its
templates is removed from the labelled log before the test days (so neither the sample, the TF-IDF
vocabulary, the historical features nor the thresholds ever see them) and the assets' own stages run
again on that log (pipeline.build_window -> build_features -> train_and_register, in a scratch data
root). Judged on the test days (the window's last 7, which no model or threshold saw) as each model
decides, at its own 100:1 thresholds (the cold-start one for a row whose fingerprint has no history):
recall of the held-out templates' heavy queries (unseen), with precision and routed share, against the
full-log model on the same queries (seen), pooled over the groups with Wilson intervals; the compliance
verdict of each held-out model on all test days; and the issue's obvious cases scored by the full-log
model. Writes bench/results/<time>-heavy-queries-unseen-templates.{json,md}: per seed, and the range.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from heavy_queries_serving import _deliver_corpus, _run_pipeline

from platform_assets.heavy_queries.logic.delivery import TRUTH_FILE
from platform_assets.heavy_queries.logic.pipeline import JOB, build_features, build_window, train_and_register, window_days
from platform_assets.heavy_queries.logic.splits import split_days
from platform_assets.heavy_queries.logic.threshold import decision_thresholds
from platform_core.metrics import wilson_interval
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.reports import markdown_table
from platform_core.storage import atomic_dir, atomic_file, current, write_json

LABELLED = "labelled.parquet"
# the obvious cases, scored by the full-log champion on the TPC-DS SF 1 schema as a new analyst sends them
OBVIOUS = {
    "many-to-many join of two fact tables (store_sales x catalog_sales on customer)":
        "select ss.ss_customer_sk, sum(ss.ss_net_paid), sum(cs.cs_net_paid) from store_sales ss join catalog_sales cs "
        "on ss.ss_customer_sk = cs.cs_bill_customer_sk group by ss.ss_customer_sk",
    "full scan of the largest table with a sort": "select * from store_sales order by ss_net_paid desc",
    "cross join": "select count(*) from store_sales cross join catalog_sales",
    "SHOW TABLES": "SHOW TABLES", "DESCRIBE": "DESCRIBE store_sales", "EXPLAIN": "EXPLAIN select * from store_sales",
    "SELECT 1": "SELECT 1",
}
SET_ASIDE = "set_aside.parquet"


def _test_predictions(layout, registry: ModelRegistry, version: str, day: date) -> pl.DataFrame:
    """The test-day model rows (query_id, heavy) with the registered model's probability, the threshold it is
    decided at (the cold-start one where the row's fingerprint has no history) and whether it is a cold start."""
    import xgboost as xgb

    ref = ModelRef.parse(JOB, version)
    booster = xgb.Booster(model_file=bytearray(registry.load_file(ref, "model.ubj")))
    directory = current(layout.table(JOB, "query_features", day.isoformat()))
    rows = pl.read_parquet(str(directory / "test_rows.parquet")).select("query_id", "heavy")
    X = np.load(directory / "test_X.npy")
    names = json.loads(registry.load_file(ref, "model.json"))["feature_names"]
    metadata = registry.metadata(ref)
    cold = X[:, names.index("cold_fingerprint")] == 1
    return rows.with_columns(pl.Series("probability", booster.inplace_predict(X)), pl.Series("cold_start", cold),
                             pl.Series("threshold", decision_thresholds(cold, metadata["threshold"], metadata["cold_threshold"])))


def _held_out_log(source, target, days: list[date], test_start: date, held_out: pl.DataFrame) -> int:
    """Copy the labelled days into `target`, without the held-out templates' queries before `test_start`."""
    removed = 0
    for day in days:
        directory = current(source.table(JOB, "labelled_queries", day.isoformat()))
        frame = pl.read_parquet(str(directory / LABELLED))
        if day < test_start:
            kept = frame.join(held_out, on="query_id", how="anti")
            removed += len(frame) - len(kept)
            frame = kept
        with atomic_dir(target.table(JOB, "labelled_queries", day.isoformat())) as tmp:
            frame.write_parquet(tmp / LABELLED)
            shutil.copyfile(directory / SET_ASIDE, tmp / SET_ASIDE)  # the day's defects, which the usable_rows gate counts
    return removed


def _recall(frame: pl.DataFrame, level: float = 0.95) -> dict:
    """Recall (Wilson interval), precision and routed share of `frame` (heavy, probability, threshold per row)."""
    routed = (frame["probability"] >= frame["threshold"]).to_numpy()
    heavy = frame["heavy"].to_numpy()
    tp, flagged_light = int((routed & heavy).sum()), int((routed & ~heavy).sum())
    low, high = wilson_interval(np.array([tp]), np.array([int(heavy.sum())]), level)
    return {"heavy": int(heavy.sum()), "caught": tp, "recall": round(tp / max(int(heavy.sum()), 1), 4),
            "recall_interval": [round(float(low[0]), 4), round(float(high[0]), 4)],
            "flagged_light": flagged_light, "light": int((~heavy).sum()),
            "precision": round(tp / max(tp + flagged_light, 1), 4), "routed_share": round(float(routed.mean()), 4),
            "cold_start_rows": int(frame["cold_start"].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-cache", type=Path, required=True, help="a built measured corpus cache root")
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 31337, 424242])
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        root = Path(tempfile.mkdtemp(prefix="heavy_queries_unseen_"))
        try:
            runs.append(_measure(argparse.Namespace(**{**vars(args), "seed": seed}), root))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"{stamp}-heavy-queries-unseen-templates"
    results = {"command": " ".join(["python", "bench/heavy_queries_unseen_templates.py", *sys.argv[1:]]),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
               "range": _range(runs), "runs": runs}
    write_json(out.with_suffix(".json"), results)
    text = "\n".join([_range_markdown(results, stamp), *(_markdown(r, stamp) for r in runs)])
    with atomic_file(out.with_suffix(".md")) as tmp:
        tmp.write_text(text)
    sys.stdout.write(text)


def _range(runs: list[dict]) -> dict:
    """Over the seeds: the lowest and highest pooled recall on unseen templates, the lowest interval bound,
    and the range of precision and routed share that recall costs."""
    pooled = [r["pooled"]["unseen"] for r in runs]
    return {"seeds": [r["seed"] for r in runs], "recall": [min(p["recall"] for p in pooled), max(p["recall"] for p in pooled)],
            "lowest_interval_bound": min(p["recall_interval"][0] for p in pooled),
            "precision": [min(p["precision"] for p in pooled), max(p["precision"] for p in pooled)],
            "routed_share": [min(p["routed_share"] for p in pooled), max(p["routed_share"] for p in pooled)]}


def _range_markdown(results: dict, stamp: str) -> str:
    rows = [{"seed": r["seed"], "heavy unseen": r["pooled"]["unseen"]["heavy"], "recall unseen": r["pooled"]["unseen"]["recall"],
             "95% interval": r["pooled"]["unseen"]["recall_interval"], "precision": r["pooled"]["unseen"]["precision"],
             "routed share": r["pooled"]["unseen"]["routed_share"],
             "seen (full model)": r["pooled"]["seen_by_full_model"]["recall"],
             "heavy share of the log": r["data"]["log_figures"]["heavy_rate"]} for r in results["runs"]]
    span = results["range"]
    return "\n".join([f"# heavy_queries: recall on unseen templates over {len(rows)} seeds ({stamp})", "",
                      f"`{results['command']}`; {results['machine']}.", "", markdown_table(rows), "",
                      f"Range: recall {span['recall'][0]}-{span['recall'][1]} (lowest 95% bound {span['lowest_interval_bound']}), "
                      f"precision {span['precision'][0]}-{span['precision'][1]}, routed share "
                      f"{span['routed_share'][0]}-{span['routed_share'][1]}.", ""])


def _measure(args: argparse.Namespace, root: Path) -> dict:
    from platform_core.storage import DataLayout

    full = DataLayout.at(root / "full")
    config, data, _ = _deliver_corpus(full, args.corpus_cache, args.rows_per_day, args.seed)
    registry = ModelRegistry(full.models)
    day, stages = _run_pipeline(full, registry, config)
    days = window_days(day, config)
    test_start = split_days(day, config.train_days, config.validation_days, config.test_days)["test"][0]
    truth = pl.concat([pl.read_parquet(str(full.truth(JOB, d.isoformat()) / TRUTH_FILE)) for d in days
                       if (full.truth(JOB, d.isoformat()) / TRUTH_FILE).exists()]).select("query_id", "template")
    seen_rows = _test_predictions(full, registry, stages["heavy_query_model"]["version"], day)
    seen_rows = seen_rows.join(truth, on="query_id", how="left")

    from platform_assets.heavy_queries.logic.serving import classify

    obvious = {name: {k: v for k, v in classify(sql, user="analyst_new", source="superset", schema="tpcds_sf1",
                                                registry=registry, ref=stages["heavy_query_model"]["version"]).items()
                        if k != "model_version"}
               for name, sql in OBVIOUS.items()}
    templates = sorted(truth["template"].unique().to_list())
    order = np.random.default_rng(args.seed).permutation(len(templates))
    groups = [sorted(templates[i] for i in order[g::args.groups]) for g in range(args.groups)]
    results = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "seed": args.seed, "cpus": os.cpu_count(), "data": data,
               "day": day.isoformat(), "test_start": test_start.isoformat(), "templates": len(templates),
               "full_log": {"threshold": stages["heavy_query_model"]["threshold"]["threshold"],
                            "cold_threshold": stages["heavy_query_model"]["cold_threshold"],
                            "test": stages["heavy_query_model"]["test"],
                            "seconds": stages["heavy_query_model"]["seconds"], "obvious_cases": obvious}, "groups": []}
    unseen_all, seen_all = [], []
    for g, group in enumerate(groups):
        started = time.perf_counter()
        layout = DataLayout.at(root / f"held-out-{g}")
        layout.landing(JOB, "current", feed="catalog").parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(full.landing(JOB, "current", feed="catalog"), layout.landing(JOB, "current", feed="catalog"))
        held_out = truth.filter(pl.col("template").is_in(group)).select("query_id")
        removed = _held_out_log(full, layout, days, test_start, held_out)
        held_registry = ModelRegistry(layout.models)
        build_window(layout, day, config)
        build_features(layout, day, config)
        model, gates = train_and_register(layout, held_registry, day, config)
        rows = _test_predictions(layout, held_registry, model["version"], day).join(truth, on="query_id", how="left")
        unseen = rows.filter(pl.col("template").is_in(group))
        seen = seen_rows.filter(pl.col("template").is_in(group))
        unseen_all.append(unseen)
        seen_all.append(seen)
        results["groups"].append({
            "group": g, "templates": group, "removed_before_test": removed,
            "threshold": round(model["threshold"]["threshold"], 6), "cold_threshold": model["cold_threshold"],
            "unseen": _recall(unseen), "seen_by_full_model": _recall(seen), "held_out_model_all_test_days": _recall(rows),
            "compliance_all_test_days": {k: model["test"][k] for k in ("recall", "fnr", "precision", "routed_share")},
            "gates": {gate.name: gate.passed for gate in gates}, "seconds": round(time.perf_counter() - started, 1),
            "load_average": round(os.getloadavg()[0], 2)})
        print(f"group {g}: {len(group)} templates, unseen recall {results['groups'][-1]['unseen']['recall']} "
              f"(seen {results['groups'][-1]['seen_by_full_model']['recall']})", flush=True)
    results["pooled"] = {"unseen": _recall(pl.concat(unseen_all)), "seen_by_full_model": _recall(pl.concat(seen_all))}
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


def _markdown(results: dict, stamp: str) -> str:
    rows = [{"group": r["group"], "templates": len(r["templates"]), "heavy (test days)": r["unseen"]["heavy"],
             "recall unseen": r["unseen"]["recall"], "interval": r["unseen"]["recall_interval"],
             "precision unseen": r["unseen"]["precision"], "routed unseen": r["unseen"]["routed_share"],
             "cold-start rows": r["unseen"]["cold_start_rows"], "recall seen (full model)": r["seen_by_full_model"]["recall"],
             "threshold / cold": f"{r['threshold']:.4f} / {r['cold_threshold']['threshold']:.4f}",
             "held-out model, all test days (recall, precision, routed)": "{recall}, {precision}, {routed_share}".format(
                 **r["compliance_all_test_days"]),
             "gates": ", ".join(f"{k} {'pass' if v else 'FAIL'}" for k, v in r["gates"].items()), "seconds": r["seconds"],
             "load": r["load_average"]} for r in results["groups"]]
    p = results["pooled"]
    return "\n".join([
        f"# heavy_queries: recall on unseen templates ({stamp})", "",
        f"{results['templates']} templates in {len(results['groups'])} groups (seed {results['seed']}); window ending "
        f"{results['day']}, test days from {results['test_start']}; {results['cpus']} cores.", "", markdown_table(rows), "",
        f"Pooled: unseen {p['unseen']['recall']} {p['unseen']['recall_interval']} of {p['unseen']['heavy']} heavy, precision "
        f"{p['unseen']['precision']}, routed share {p['unseen']['routed_share']} (light flagged "
        f"{p['unseen']['flagged_light'] / max(p['unseen']['light'], 1):.4f}); the same queries seen by the full-log model: "
        f"{p['seen_by_full_model']['recall']} {p['seen_by_full_model']['recall_interval']}, precision "
        f"{p['seen_by_full_model']['precision']}, routed share {p['seen_by_full_model']['routed_share']}.", "",
        "```json", json.dumps(results["full_log"], indent=1, default=str), "```", ""])


if __name__ == "__main__":
    main()
