"""heavy_queries: training time, boundary vs random sampling, serving latency and batch rates,
measured through the functions the assets run.

    python bench/heavy_queries_serving.py --per-day 150 [--corpus .../measured_executions.parquet]
    python bench/heavy_queries_serving.py --corpus-cache /tmp/hqx/fresh [--data-dir DIR] [--seeds 5]

Data. Without `--corpus-cache`: the synthetic TPC-like log of tests/heavy_queries/helpers.py (44 days
x `--per-day` runs, its thresholds 1 s / 512 MiB). With it: the log built from the measured corpus
cached there (reused, never rebuilt), delivered by `delivery.generate_world` (2,000 rows a day,
seed 7) and labelled with HeavyQueriesConfig's defaults (250 ms CPU / 85,000,000 bytes), as the
assets would. Either log is delivered into the landing folders of `--data-dir` (a temporary data
root, removed afterwards, by default) and taken through the assets' own stages, each timed:
labels.build_labelled per day -> pipeline.build_window -> build_features -> train_and_register.

Measured in one process, onnxruntime with one intra-op thread, XGBoost nthread=1, with the 1-minute
load average (what `uptime` shows) beside each timing, since the 2 cores are shared:
- boundary vs plain random under-sampling at the same ratio for `--seeds` seeds (the first, 7, is
  the pipeline's own and reproduces its model): each trained as the pipeline trains (5-fold CV with
  early stopping + final model), judged at its own 100:1 threshold chosen on the validation days,
  on the test days as served (zero-cost rules included, as the compliance gate judges): recall
  with its Wilson interval, FNR, precision, routed share, CV and test AUC, and the recall on test
  queries whose text never ran on a training day; mean and range over seeds, paired differences;
- featurize + score one query with the registered model through `classify`: p50 / p99 over texts
  never seen (the featurizer's memory cleared before each group), then over the same texts again
  (remembered), `--repeats` passes; p99 / max over texts of each text's fastest pass. Objects
  alive before timing are frozen (gc.freeze), as a service would after loading;
- batch scoring (`score_batch`): the test days' distinct texts, all new; their log as it comes
  (texts repeat, none seen before); the same log again (every text remembered); the corpus texts;
  ONNX and XGBoost alone over an already featurized matrix.
Writes bench/results/<time>-heavy-queries-serving.{json,md}, or <time>-heavy-queries-corpus-log.{json,md}
with `--corpus-cache`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_assets.heavy_queries.logic.config import ModelConfig
from platform_assets.heavy_queries.logic.featurizer import Featurizer
from platform_assets.heavy_queries.logic.history import HistoryState, states_by_day
from platform_assets.heavy_queries.logic.labels import build_labelled, wilson_interval, zero_cost_gate
from platform_assets.heavy_queries.logic.onnx_model import onnx_probabilities
from platform_assets.heavy_queries.logic.pipeline import JOB, build_features, build_window, train_and_register
from platform_assets.heavy_queries.logic.sampling import boundary_sample, random_undersample
from platform_assets.heavy_queries.logic.serving import LoadedModel, classify, load_model, score_batch
from platform_assets.heavy_queries.logic.threshold import choose_threshold, confusion
from platform_assets.heavy_queries.logic.training import classification_metrics, train_model
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.reports import markdown_table
from platform_core.storage import SUCCESS_MARKER, DataLayout, atomic_file, current, write_json, write_once_dir

SUMMARY = ("recall", "fnr", "precision", "routed_share", "unseen_text_recall", "cv_auc", "test_auc", "threshold", "seconds")
PAIRED = ("recall", "precision", "routed_share", "cv_auc")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _timed(fn, *args) -> tuple[object, dict]:
    load = _load()
    start = time.perf_counter()
    out = fn(*args)
    return out, {"seconds": round(time.perf_counter() - start, 4), "load_1min": f"{load}-{_load()}"}


def _deliver_synthetic(layout: DataLayout, per_day: int, seed: int) -> tuple[ModelConfig, dict, None]:
    """The tests' synthetic log and its catalog statistics, delivered as upstream would."""
    from tests.heavy_queries.helpers import catalog_stats, deliver, generate_log, small_config

    log, truth = generate_log(per_day=per_day, seed=seed)
    if not layout.landing_area(JOB).exists():
        deliver(layout, log, truth)
        with write_once_dir(layout.landing(JOB, "current", feed="catalog"), SUCCESS_MARKER) as tmp:
            (tmp / "catalog_stats.json").write_text(json.dumps(catalog_stats()) + "\n")
            (tmp / SUCCESS_MARKER).write_text("\n")
    return small_config(max_rounds=300, early_stopping_rounds=30), {"log": "synthetic (tests/heavy_queries/helpers.py)",
                                                                    "per_day": per_day, "delivered_rows": len(log)}, None


def _deliver_corpus(layout: DataLayout, cache_root: Path, rows_per_day: int, seed: int) -> tuple[ModelConfig, dict, Path]:
    """The measured corpus' log (generate_world) with HeavyQueriesConfig's defaults; the corpus must be built already."""
    from platform_assets.heavy_queries.config import HeavyQueriesConfig
    from platform_assets.heavy_queries.logic.corpus import DEFAULT_CORPUS, MANIFEST, TABLE
    from platform_assets.heavy_queries.logic.delivery import generate_world

    corpus_dir = cache_root / f"corpus-{DEFAULT_CORPUS.key}"
    if not (corpus_dir / MANIFEST).exists():
        raise SystemExit(f"{corpus_dir}: no built default corpus there (build it with bench/heavy_queries_corpus.py first)")
    delivered = generate_world(layout, rows_per_day=rows_per_day, seed=seed, corpus_spec=DEFAULT_CORPUS, cache_root=cache_root)
    figures = {k: v for k, v in delivered.figures.items() if not k.startswith("corpus_")}
    return HeavyQueriesConfig().pipeline_config(), {
        "log": f"measured corpus {DEFAULT_CORPUS.key} ({cache_root})", "rows_per_day": rows_per_day, "seed": seed,
        "delivered_rows": delivered.rows, "delivered_days": len(delivered.written), "reused_days": len(delivered.skipped),
        "log_figures": figures, "corpus": {k.removeprefix("corpus_"): v for k, v in delivered.figures.items()
                                           if k.startswith("corpus_")}}, corpus_dir / TABLE


def _run_pipeline(layout: DataLayout, registry: ModelRegistry, config: ModelConfig) -> tuple[date, dict]:
    """Every delivered day labelled, then the window, features and model of the window ending on the last day."""
    days = sorted(p.name for p in layout.landing_area(JOB).iterdir() if (p / SUCCESS_MARKER).exists())
    labelled, t_label = _timed(lambda: [build_labelled(layout.landing(JOB, d), layout.table(JOB, "labelled_queries", d), config,
                                                       date.fromisoformat(d))
                                        for d in days])
    last = date.fromisoformat(days[-1])
    (window, _), t_window = _timed(build_window, layout, last, config)
    (features, feature_gates), t_features = _timed(build_features, layout, last, config)
    (model, model_gates), t_model = _timed(train_and_register, layout, registry, last, config)
    return last, {
        "labelled_queries": {**t_label, "days": len(days), "rows_in": sum(f["rows_in"] for f in labelled),
                             "rows_kept": sum(f["rows_kept"] for f in labelled), "heavy": sum(f["heavy"] for f in labelled)},
        "query_window": {**t_window, **{k: window[k] for k in ("rows_out", "heavy", "heavy_share", "splits", "sampling",
                                                               "zero_cost_routed")}},
        "query_features": {**t_features, **{k: features[k] for k in ("features", "vocabulary")},
                           "gates": {g.name: g.passed for g in feature_gates}},
        "heavy_query_model": {**t_model, **{k: model[k] for k in ("version", "promoted", "failed_gates", "rounds", "cold_threshold",
                                                                  "training_seconds", "cv", "threshold", "test")},
                              "gates": {g.name: g.passed for g in model_gates}},
    }


@dataclass
class Evaluation:
    """The pipeline's window, featurizer and matrices, to train and judge other samples exactly as it did."""

    config: ModelConfig
    window: pl.DataFrame
    train: pl.DataFrame
    test: pl.DataFrame
    featurizer: Featurizer
    states: dict[date, HistoryState]
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    routed_test_heavy: np.ndarray
    unseen_text: np.ndarray


def _evaluation(layout: DataLayout, day: date, config: ModelConfig) -> Evaluation:
    window = pl.read_parquet(str(current(layout.table(JOB, "query_window", day.isoformat())) / "window.parquet"))
    directory = current(layout.table(JOB, "query_features", day.isoformat()))
    routed = window["zero_cost_category"].is_in(zero_cost_gate(window, config).metadata["routed"]).fill_null(False)
    model_rows = window.filter(~routed)
    test = model_rows.filter(pl.col("split") == "test")  # the rows of test_X.npy, in its order (build_features)
    if not test["query_id"].equals(pl.read_parquet(str(directory / "test_rows.parquet"))["query_id"]):
        raise ValueError(f"{directory}: test rows differ from the window's; rerun build_features")
    train = model_rows.filter(pl.col("split") == "train")
    return Evaluation(
        config, window, train, test, Featurizer.from_json((directory / "featurizer.json").read_text()),
        states_by_day(window, window["day"].unique().to_list()),
        np.load(directory / "validation_X.npy"), pl.read_parquet(str(directory / "validation_rows.parquet"))["heavy"].to_numpy(),
        np.load(directory / "test_X.npy"), test["heavy"].to_numpy(),
        window.filter(routed & (pl.col("split") == "test"))["heavy"].to_numpy(),
        ~test["query"].is_in(train["query"].unique().implode()).to_numpy())


def _fit_and_judge(sample: pl.DataFrame, data: Evaluation, config: ModelConfig) -> dict:
    """Trained and thresholded as train_and_register does; test days judged as served."""
    model = train_model(data.featurizer.featurize_frame(sample, data.states), sample["heavy"].to_numpy(), config,
                        data.featurizer.feature_names)
    chosen = choose_threshold(data.y_valid, model.predict(data.X_valid), config.cost_fn, config.cost_fp)
    p_test = model.predict(data.X_test)
    served = confusion(np.concatenate([data.y_test, data.routed_test_heavy]),
                       np.concatenate([p_test, np.zeros(len(data.routed_test_heavy))]), chosen["threshold"])
    unseen = confusion(data.y_test[data.unseen_text], p_test[data.unseen_text], chosen["threshold"])
    low, high = wilson_interval(served["tp"], served["heavy"], config.confidence_level)
    return {"sample_rows": len(sample), "seconds": model.seconds, "rounds": model.rounds,
            "threshold": round(chosen["threshold"], 6), "validation_recall": chosen["recall"],
            **{k: served[k] for k in ("heavy", "tp", "fn", "recall")}, "recall_interval": [round(low, 4), round(high, 4)],
            **{k: served[k] for k in ("fnr", "precision", "routed_share")},
            "unseen_text_heavy": unseen["heavy"], "unseen_text_recall": unseen["recall"],
            "cv_auc": model.cv["auc"]["mean"], "cv_pr_auc": model.cv["pr_auc"]["mean"],
            "test_auc": classification_metrics(data.y_test, p_test)["auc"]}


def _spread(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": round(float(np.mean(values)), 5), "min": round(float(min(values)), 5), "max": round(float(max(values)), 5)}


def _compare_sampling(data: Evaluation, seeds: list[int]) -> dict:
    """Boundary and random under-sampling of the same training rows, per seed; mean, range and paired differences."""
    rows = []
    for seed in seeds:
        config = replace(data.config, seed=seed)
        samples = {"boundary": boundary_sample(data.train, config.thresholds, config.sample_ratio, config.max_boost,
                                               config.min_multiplier, seed),
                   "random": random_undersample(data.train, config.sample_ratio, seed)}
        for method, (sample, figures) in samples.items():
            rows.append({"sampling": method, "seed": seed, "ratio_achieved": figures["ratio_achieved"],
                         **_fit_and_judge(sample, data, config)})
    by_method = {m: [r for r in rows if r["sampling"] == m] for m in ("boundary", "random")}
    summary = {m: {k: _spread([r[k] for r in group]) for k in SUMMARY} for m, group in by_method.items()}
    paired = {k: _spread([b[k] - r[k] for b, r in zip(by_method["boundary"], by_method["random"], strict=True)
                          if b[k] is not None and r[k] is not None]) for k in PAIRED}
    return {"seeds": seeds, "per_seed": rows, "summary": summary, "boundary_minus_random": paired}


def _percentiles(seconds: list[float], loads: list[float], repeats: int) -> dict:
    """p50 / p99 / max over every call, and p99 over texts of each text's fastest pass: what the
    featurizer costs without the other people's processes on the 2 cores."""
    ms = np.asarray(seconds) * 1000
    fastest = ms.reshape(repeats, -1).min(axis=0)
    return {"calls": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "max_ms": round(float(ms.max()), 3), "p99_ms_fastest_pass": round(float(np.percentile(fastest, 99)), 3),
            "max_ms_fastest_pass": round(float(fastest.max()), 3), "load_1min": f"{min(loads)}-{max(loads)}"}


def _single_query(served: LoadedModel, texts: dict[str, list[tuple]], repeats: int) -> dict:
    """Each group read afresh (memory cleared), then again (remembered), `repeats` times."""
    for item in next(iter(texts.values()))[:5]:  # warm-up: imports, first session run
        classify(*item, model=served)
    # As a service does once it has loaded its model: what is loaded is never garbage, so a full
    # collection should not scan it (without this, one 0.25-1 s gen-2 pass landed on a query).
    gc.collect()
    gc.freeze()
    timings: dict[str, list[float]] = {name: [] for name in [*texts, "repeated text"]}
    loads: dict[str, list[float]] = {name: [] for name in timings}
    for _ in range(repeats):
        for name, items in texts.items():
            served.featurizer.clear_cache()
            for label in (name, "repeated text"):
                loads[label].append(_load())
                for item in items:
                    start = time.perf_counter()
                    classify(*item, model=served)
                    timings[label].append(time.perf_counter() - start)
    return {name: _percentiles(values, loads[name], repeats) for name, values in timings.items()}


def _rate(name: str, frame: pl.DataFrame, model: LoadedModel, states: dict | None) -> dict:
    (_, timing) = _timed(score_batch, frame, model, states)
    return {"batch": name, "rows": len(frame), "distinct_texts": frame["query"].n_unique(),
            "rows_per_s": round(len(frame) / timing["seconds"]) if timing["seconds"] else None, "load_1min": timing["load_1min"]}


def _batches(served: LoadedModel, data: Evaluation, corpus: pl.DataFrame | None) -> list[dict]:
    featurizer = served.featurizer
    featurizer.clear_cache()
    out = [_rate("test days, distinct texts, all new", data.test.unique("query", maintain_order=True), served, data.states)]
    featurizer.clear_cache()
    out.append(_rate("test days' log, texts new to the featurizer", data.test, served, data.states))
    out.append(_rate("test days' log again, every text remembered", data.test, served, data.states))
    if corpus is not None:
        featurizer.clear_cache()
        out.append(_rate("corpus, distinct texts, all new", corpus, served, None))
    return out


def _model_only(served: LoadedModel, booster_ubj: bytes, X: np.ndarray, rows: int) -> dict:
    """ONNX (the served path) and the XGBoost booster over the same already featurized rows, one thread each."""
    import xgboost as xgb

    X_batch = np.tile(X, (-(-rows // len(X)), 1))[:rows]
    booster = xgb.Booster(model_file=bytearray(booster_ubj))
    booster.set_param({"nthread": 1})
    onnx_probabilities(served.session, X_batch[:1000])
    _, onnx = _timed(onnx_probabilities, served.session, X_batch)
    _, native = _timed(booster.inplace_predict, X_batch)
    return {"rows": rows, "onnx_rows_per_s": round(rows / onnx["seconds"]), "onnx_load_1min": onnx["load_1min"],
            "xgboost_rows_per_s": round(rows / native["seconds"]), "xgboost_load_1min": native["load_1min"]}


def _tpcds_queries() -> list[str]:
    from benchbox.tpcds import TPCDS

    bench = TPCDS(scale_factor=1)
    return [bench.get_query(n, seed=42, dialect="duckdb") for n in range(1, 100)]


def _corpus_frame(path: Path, day: date) -> pl.DataFrame:
    """Every distinct text of a measured corpus as one day's queries of one user."""
    corpus = pl.read_parquet(path).unique("query", maintain_order=True)
    return corpus.select("query", "schema", "query_type").with_columns(
        pl.lit("user_01").alias("user"), pl.lit("superset").alias("source"), pl.lit(day).alias("day"))


def _items(frame: pl.DataFrame) -> list[tuple]:
    return list(frame.select("query", "user", "source", "schema", "query_type").iter_rows())


def _fmt(spread: dict | None) -> str:
    return "" if spread is None else f"{spread['mean']:.4g} ({spread['min']:.4g} to {spread['max']:.4g})"


def _markdown(results: dict, title: str) -> str:
    stages = [{"stage": name, "seconds": s["seconds"], "load_1min": s["load_1min"]} for name, s in results["stages"].items()]
    sampling = results["sampling"]
    summary = [{"sampling": m, **{k: _fmt(v) for k, v in row.items()}} for m, row in sampling["summary"].items()]
    per_seed = [{k: v for k, v in row.items() if k not in ("tp", "cv_pr_auc", "validation_recall")} for row in sampling["per_seed"]]
    model = results["stages"]["heavy_query_model"]
    data = results["data"]
    intro = (f"{data['log']}; window ending {results['day']}: {data['rows']} labelled queries ({data['heavy_share']:.2%} heavy), "
             f"{data['features']} features; {data['test_text_seen_in_train_share']:.1%} of test queries ran the same text "
             "on a training day.")
    trained = (f"Model {model['version']}: promoted {model['promoted']}, training {model['training_seconds']} s "
               f"(5-fold CV with early stopping + final model, {model['rounds']} rounds).")
    compared = (f"## Boundary vs random under-sampling, {results['config']['sample_ratio']}:1, each at its own "
                f"{results['config']['cost_fn']:g}:1 threshold (test days, as served): mean (range) over seeds {sampling['seeds']}")
    return "\n".join([
        f"# {title}", "", intro, "", "## Pipeline stages (the assets' functions)", "", markdown_table(stages), "", trained, "",
        compared, "",
        markdown_table(summary), "", "Boundary minus random, paired by seed:", "",
        markdown_table([{"figure": k, "difference": _fmt(v)} for k, v in sampling["boundary_minus_random"].items()]), "",
        f"Seed {sampling['seeds'][0]} boundary reproduces the pipeline's model: {sampling['reproduces_pipeline_model']}", "",
        "Per seed:", "", markdown_table(per_seed), "",
        "## Featurize + score one query through `classify` (ONNX, 1 thread)", "",
        markdown_table([{"queries": name, **row} for name, row in results["single_query"].items()]), "",
        "## Batch featurize + score (`score_batch`)", "", markdown_table(results["batch"]), "",
        "## Model only, already featurized rows", "", markdown_table([results["model_only"]]), "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-cache", type=Path, default=None,
                        help="a measured corpus cache root (e.g. /tmp/hqx/fresh): use the log built from it")
    parser.add_argument("--data-dir", type=Path, default=None, help="data root to deliver into and run in (kept)")
    parser.add_argument("--rows-per-day", type=int, default=2000, help="corpus log: rows a day")
    parser.add_argument("--per-day", type=int, default=150, help="synthetic log: runs a day")
    parser.add_argument("--seed", type=int, default=7, help="the log's seed")
    parser.add_argument("--seeds", type=int, default=5, help="sampling seeds compared (7, 8, ...)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--corpus", type=Path, default=None, help="synthetic log: a corpus' measured_executions.parquet, "
                                                                  "its texts timed too")
    args = parser.parse_args()
    import sklearn.model_selection  # noqa: F401  imported before any clock starts: the first training is not charged for it
    import xgboost  # noqa: F401

    root = args.data_dir or Path(tempfile.mkdtemp(prefix="heavy_queries_bench_"))
    try:
        results = _measure(args, DataLayout.at(root))
    finally:
        if args.data_dir is None:
            shutil.rmtree(root)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name, title = (("heavy-queries-corpus-log", "heavy_queries on the measured corpus' log") if args.corpus_cache
                   else ("heavy-queries-serving", "heavy_queries on the synthetic log"))
    out = ROOT / "bench" / "results"
    write_json(out / f"{stamp}-{name}.json", results)
    text = _markdown(results, f"{title} ({stamp})")
    with atomic_file(out / f"{stamp}-{name}.md") as tmp:
        tmp.write_text(text)
    sys.stdout.write(text)


def _measure(args: argparse.Namespace, layout: DataLayout) -> dict:
    results: dict = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
                     "started": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.corpus_cache:
        (config, results["data"], corpus_path), results["delivery"] = _timed(_deliver_corpus, layout, args.corpus_cache,
                                                                             args.rows_per_day, args.seed)
    else:
        (config, results["data"], corpus_path), results["delivery"] = _timed(_deliver_synthetic, layout, args.per_day, args.seed)
        corpus_path = args.corpus
    results["config"] = {"cpu_ms": config.thresholds.cpu_ms, "peak_memory_bytes": config.thresholds.peak_memory_bytes,
                         "sample_ratio": config.sample_ratio, "cost_fn": config.cost_fn, "cost_fp": config.cost_fp,
                         "max_rounds": config.max_rounds, "early_stopping_rounds": config.early_stopping_rounds,
                         "nthread": config.nthread}
    registry = ModelRegistry(layout.models)
    day, results["stages"] = _run_pipeline(layout, registry, config)
    results["day"] = day.isoformat()
    data = _evaluation(layout, day, config)
    results["data"].update({"rows": len(data.window), "heavy_share": round(float(data.window["heavy"].mean()), 4),
                            "features": len(data.featurizer.feature_names), "test_model_rows": len(data.test),
                            "test_text_seen_in_train_share": round(1 - float(data.unseen_text.mean()), 4),
                            "test_unseen_text_heavy": int(data.y_test[data.unseen_text].sum())})

    results["sampling"] = _compare_sampling(data, [7 + i for i in range(args.seeds)])
    pipeline_test = results["stages"]["heavy_query_model"]["test"]
    first = results["sampling"]["per_seed"][0]
    results["sampling"]["reproduces_pipeline_model"] = bool(
        first["seed"] == config.seed and first["recall"] == pipeline_test["recall"]
        and first["routed_share"] == pipeline_test["routed_share"]
        and first["threshold"] == round(results["stages"]["heavy_query_model"]["threshold"]["threshold"], 6))

    ref = ModelRef.parse(JOB, results["stages"]["heavy_query_model"]["version"])
    served = load_model(registry=registry, ref=ref)
    corpus = _corpus_frame(corpus_path, date.fromisoformat(served.featurizer.history.as_of)) if corpus_path else None
    texts = {"tpcds, new text": [(q, "user_01", "superset", "tpcds_sf1", "SELECT") for q in _tpcds_queries()],
             "log, new text": _items(data.test.unique("query", maintain_order=True))}
    if corpus is not None:
        texts["corpus, new text"] = _items(corpus)
    results["single_query"] = _single_query(served, texts, args.repeats)
    results["batch"] = _batches(served, data, corpus)
    results["model_only"] = _model_only(served, registry.load_file(ref, "model.ubj"), data.X_test, args.batch_rows)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


if __name__ == "__main__":
    main()
