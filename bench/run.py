"""predict_age benchmark: every stage through the same code the assets run, at a given size.

    python bench/run.py --rows 10000000            (make bench ROWS=10000000)

Data is generated once per size into bench/cache/<rows>/ and reused. Each stage runs in its own
spawned process, so its peak RSS is its own. Baselines run in the same invocation on the same
data and the same trained model: (a) the inference loop a team writes first (pandas, batches of
1,000 rows, scikit-learn-API predict, results appended to a list), (b) a pandas merge for the
final table, (c) the same merge in PySpark local mode where pyspark is installed. Results go to
bench/results/<date>-<rows>.json and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_core.periods import Quarter  # noqa: E402
from platform_core.storage import DataLayout, current, dir_bytes  # noqa: E402

QUARTER = Quarter.parse("2025q3")
JOB = "predict_age"


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(fn_name: str, kwargs: dict, queue) -> None:
    try:
        start = time.perf_counter()
        # a fresh process pays these imports once: reported apart (xgboost's pulls in scikit-learn, 2.7 s here,
        # which a 2M-row prediction stage would otherwise pay in its rate)
        import duckdb  # noqa: F401
        import polars  # noqa: F401
        import xgboost  # noqa: F401
        imported = time.perf_counter()
        out = globals()[fn_name](**kwargs)
        out["seconds"] = round(time.perf_counter() - imported, 3)
        out["import_seconds"] = round(imported - start, 3)
        out["peak_rss_mb"] = _peak_rss_mb()
        queue.put(out)
    except BaseException as exc:  # report, do not hang the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def in_process(fn_name: str, **kwargs) -> dict:
    """Run one stage in a fresh spawned process and return its figures."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn_name, kwargs, queue))
    proc.start()
    out = queue.get()
    proc.join()
    if "error" in out:
        raise RuntimeError(f"{fn_name}: {out['error']}")
    if out.get("rows_in") and out["seconds"]:
        out["rows_per_s"] = round(out["rows_in"] / out["seconds"])
    return out


# ---- stages: each calls the same plain functions as the assets ----

def stage_generate(root: str, rows: int) -> dict:
    from platform_assets.predict_age.logic.generator import generate_snapshot

    layout = DataLayout.at(root)
    generate_snapshot(layout.landing(JOB, QUARTER), layout.truth(JOB, QUARTER), QUARTER, rows, seed=7)
    return {"rows_in": rows, "rows_out": rows, "bytes_written": dir_bytes(layout.landing(JOB, QUARTER))}


def stage_source(root: str, threads: int) -> dict:
    from platform_assets.predict_age.logic.source import build_source_snapshot

    layout = DataLayout.at(root)
    target = layout.table("predict_age", "source_snapshot", QUARTER)
    s = build_source_snapshot(layout.landing(JOB, QUARTER), target, QUARTER.start, 18, 100, threads)
    return {"rows_in": s.rows_in, "rows_out": s.rows_out, "bytes_written": dir_bytes(current(target))}


def stage_staging(root: str, buckets: int, threads: int) -> dict:
    from platform_assets.predict_age.logic.staging import build_staging_features

    layout = DataLayout.at(root)
    target = layout.table("predict_age", "staging_features", QUARTER)
    s = build_staging_features(current(layout.table("predict_age", "source_snapshot", QUARTER)), target, QUARTER.start, buckets, threads)
    return {"rows_in": s["rows"], "rows_out": s["rows"], "bytes_written": dir_bytes(current(target))}


def stage_training(root: str, max_rows: int, threads: int) -> dict:
    from platform_assets.predict_age.logic.training import XGBoostSettings, build_training_features, train_age_models
    from platform_core.registry import ModelRegistry

    layout = DataLayout.at(root)
    path = layout.table("predict_age", "training_features", QUARTER) / "training_features.parquet"
    tf = build_training_features(current(layout.table("predict_age", "staging_features", QUARTER)), path, max_rows, 7, threads)
    trained = train_age_models(path, sensitive_as_features=False, interval_coverage=0.8, xgb=XGBoostSettings(nthread=threads))
    registry = ModelRegistry(layout.models)
    refs = {n: registry.register(JOB, n, QUARTER.label, trained.files[n], trained.metadata[n]) for n in trained.files}
    registry.promote(JOB, refs, reason="benchmark")
    ev = trained.evaluation
    return {"rows_in": tf["rows"], "rows_out": tf["rows"], "xgboost_mae": ev["xgboost"]["mae"],
            "interval_coverage": ev["interval"]["coverage"], "interval_width": ev["interval"]["mean_width"]}


def stage_prediction(root: str, buckets: int, threads: int) -> dict:
    from platform_assets.predict_age.logic.prediction import LoadedModels, predict_batch
    from platform_assets.predict_age.logic.publish import batch_file
    from platform_core.registry import ModelRegistry

    layout = DataLayout.at(root)
    out_dir = layout.table("predict_age", "prediction_batches", QUARTER)
    rows_in = rows_out = 0
    for b in range(buckets):  # as the batch runs do: load the champion, score one bucket, write it
        models = LoadedModels.champion(ModelRegistry(layout.models), JOB, threads)
        s = predict_batch(current(layout.table("predict_age", "staging_features", QUARTER)), b, batch_file(out_dir, b), models,
                          min_features=3, min_age=18, max_age=100)
        rows_in, rows_out = rows_in + s["rows_in"], rows_out + s["rows_out"]
    return {"rows_in": rows_in, "rows_out": rows_out, "bytes_written": dir_bytes(out_dir)}


def stage_final_merge(root: str, buckets: int, threads: int) -> dict:
    """The merge with its check figures, as final_results runs it."""
    from platform_assets.predict_age.logic.publish import build_final_results

    layout = DataLayout.at(root)
    final = layout.table("predict_age", "final_results", QUARTER)
    f = build_final_results(current(layout.table("predict_age", "staging_features", QUARTER)), layout.table("predict_age", "prediction_batches", QUARTER),
                            final, buckets, existing_confidence=1.0, min_age=18, max_age=100, threads=threads)
    ok = f["rows"] == f["source_pids"] == f["distinct_pids"] and f["null_ages"] == 0 and f["inconsistent_sources"] == 0
    return {"rows_in": f["source_pids"], "rows_out": f["rows"], "checks_pass": ok, "bytes_written": dir_bytes(current(final))}


def stage_qa(root: str, threads: int) -> dict:
    from platform_assets.predict_age.logic.publish import build_human_qa, final_results_summary

    layout = DataLayout.at(root)
    final = current(layout.table("predict_age", "final_results", QUARTER))
    summary = final_results_summary(final)
    build_human_qa(final, current(layout.table("predict_age", "source_snapshot", QUARTER)), None, None, layout.table("predict_age", "human_qa", QUARTER))
    rows = sum(r["rows"] for r in summary["by_source"])
    return {"rows_in": rows, "rows_out": rows}


# ---- same-run limits: the bare operation each stage cannot beat, on the same input ----

def limit_copy(root: str, table: str, files: str, threads: int) -> dict:
    """A DuckDB Parquet-to-Parquet copy of a stage's input (every column, zstd, as the stages write):
    reading, decoding, encoding and writing the same bytes, with no SQL logic between."""
    import shutil
    import tempfile

    from platform_core import duck

    layout = DataLayout.at(root)
    source = layout.landing(JOB, QUARTER) if table == "landing" else current(layout.table(JOB, table, QUARTER))
    con = duck.connect(threads)
    out = Path(tempfile.mkdtemp(dir=root))
    try:
        start = time.perf_counter()
        duck.copy_to_parquet(con, f"SELECT * FROM read_parquet({duck.literal(f'{source}/{files}')})", None,
                             out / "copy.parquet")
        seconds = time.perf_counter() - start
        rows = con.execute(f"SELECT count(*) FROM read_parquet({duck.literal(str(out / 'copy.parquet'))})").fetchone()[0]
    finally:
        shutil.rmtree(out)
    return {"rows_in": rows, "rows_out": rows, "copy_seconds": round(seconds, 3)}


def limit_predict(root: str, buckets: int, threads: int) -> dict:
    """The champion's bare `inplace_predict` on the rows the prediction stage scores: its point
    model and its error-scale model (both make every published prediction), their feature
    matrices built beforehand (not timed)."""
    import polars as pl

    from platform_assets.predict_age.logic.features import feature_matrix
    from platform_assets.predict_age.logic.models import predict_booster, predict_scale
    from platform_assets.predict_age.logic.prediction import LoadedModels
    from platform_assets.predict_age.logic.staging import bucket_dir
    from platform_core.registry import ModelRegistry

    layout = DataLayout.at(root)
    staging = current(layout.table(JOB, "staging_features", QUARTER))
    models = LoadedModels.champion(ModelRegistry(layout.models), JOB, threads)
    point = models.point
    rows, seconds = 0, 0.0
    for b in range(buckets):
        frame = pl.scan_parquet(str(bucket_dir(staging, b) / "*.parquet")).filter(pl.col("needs_prediction")).collect()
        X = feature_matrix(frame, point.encoder, point.features)
        start = time.perf_counter()
        predict_booster(point.booster, X, point.iteration)
        predict_scale(models.scale, X, models.scale_iteration)
        seconds += time.perf_counter() - start
        rows += len(frame)
    return {"rows_in": rows, "rows_out": rows, "predict_seconds": round(seconds, 3)}


LIMITS = {"source_snapshot": ("limit_copy", {"table": "landing", "files": "*.parquet"}),
          "staging_features": ("limit_copy", {"table": "source_snapshot", "files": "source_snapshot.parquet"}),
          "final_merge": ("limit_copy", {"table": "staging_features", "files": "bucket=*/*.parquet"}),
          "human_qa": ("limit_copy", {"table": "final_results", "files": "part-*.parquet"})}


# ---- baselines ----

def baseline_naive_inference(root: str, max_rows: int) -> dict:
    """(a) pandas frames, batches of 1,000 rows, scikit-learn-API predict, list append."""
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    from platform_assets.predict_age.logic.prediction import LoadedModels
    from platform_core.registry import ModelRegistry

    layout = DataLayout.at(root)
    models = LoadedModels.champion(ModelRegistry(layout.models), JOB, 2)
    pm = models.point
    frame = pd.read_parquet(current(layout.table("predict_age", "staging_features", QUARTER)))
    frame = frame[frame["needs_prediction"]].head(max_rows)
    regressor = xgb.XGBRegressor()
    regressor.load_model(bytearray(pm.booster.save_raw("ubj")))
    scale = xgb.XGBRegressor()
    scale.load_model(bytearray(models.scale.save_raw("ubj")))
    encoder = dict(zip(pm.encoder.names, zip(pm.encoder.mean_age, pm.encoder.sd_age, pm.encoder.log_count)))
    results = []
    start = time.perf_counter()
    for i in range(0, len(frame), 1000):
        batch = frame.iloc[i:i + 1000].copy()
        enc = batch["first_name"].map(lambda n: encoder.get(n, (np.nan, np.nan, np.nan)))
        batch["first_name_age"], batch["first_name_age_sd"], batch["first_name_log_count"] = zip(*enc)
        X = batch[pm.features].astype("float32")
        point = regressor.predict(X, iteration_range=(0, pm.iteration + 1))
        spread = scale.predict(X, iteration_range=(0, models.scale_iteration + 1))
        for pid, p, s in zip(batch["pid"], point, spread):
            results.append((pid, int(round(p)), float(s)))
    seconds = time.perf_counter() - start
    naive = pd.DataFrame(results, columns=["pid", "naive_age", "naive_scale"])
    fast = pd.read_parquet(layout.table("predict_age", "prediction_batches", QUARTER), columns=["pid", "predicted_age", "prediction_source"])
    truth = pd.read_parquet(layout.truth(JOB, QUARTER))
    both = naive.merge(fast, on="pid").merge(truth, on="pid")
    both = both[both["prediction_source"] == "ML_PREDICTION"]
    both["naive_age"] = both["naive_age"].clip(18, 100)
    return {"rows_in": len(frame), "rows_out": len(results), "loop_seconds": round(seconds, 3),
            "loop_rows_per_s": round(len(frame) / seconds),
            "naive_mae_vs_truth": round(float((both["naive_age"] - both["true_age"]).abs().mean()), 4),
            "fast_mae_vs_truth": round(float((both["predicted_age"] - both["true_age"]).abs().mean()), 4),
            "same_age_share": round(float((both["naive_age"] == both["predicted_age"]).mean()), 4)}


def baseline_pandas_merge(root: str) -> dict:
    """(b) the final table as a pandas merge of staging and predictions."""
    import numpy as np
    import pandas as pd

    layout = DataLayout.at(root)
    start = time.perf_counter()
    staging = pd.read_parquet(current(layout.table("predict_age", "staging_features", QUARTER)),
                              columns=["pid", "existing_age", "existing_age_source"])
    preds = pd.read_parquet(layout.table("predict_age", "prediction_batches", QUARTER))
    merged = staging.merge(preds, on="pid", how="left")
    has = merged["existing_age"].notna()
    merged["predicted_age"] = np.where(has, merged["existing_age"], merged["predicted_age"])
    merged["prediction_source"] = np.where(has, merged["existing_age_source"], merged["prediction_source"])
    merged["confidence_score"] = np.where(has, 1.0, merged["confidence_score"])
    merged[["pid", "predicted_age", "confidence_score", "prediction_source", "model_version"]].to_parquet("/dev/null")
    return {"rows_in": len(staging), "rows_out": len(merged), "merge_seconds": round(time.perf_counter() - start, 3)}


def baseline_spark_merge(root: str) -> dict:
    """(c) the same merge in PySpark local mode (skipped when pyspark is not installed)."""
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F
    except ImportError:
        return {"skipped": "pyspark not installed (pip install pyspark; needs Java)"}
    layout = DataLayout.at(root)
    spark = SparkSession.builder.master("local[2]").config("spark.driver.memory", "6g").getOrCreate()
    try:
        start = time.perf_counter()
        staging = spark.read.parquet(str(current(layout.table("predict_age", "staging_features", QUARTER)))).select("pid", "existing_age", "existing_age_source")
        preds = spark.read.parquet(str(layout.table("predict_age", "prediction_batches", QUARTER)))
        merged = staging.join(preds, "pid", "left").select(
            "pid", F.coalesce("existing_age", "predicted_age").alias("predicted_age"),
            F.when(F.col("existing_age").isNotNull(), F.lit(1.0)).otherwise(F.col("confidence_score")).alias("confidence_score"),
            F.coalesce("existing_age_source", "prediction_source").alias("prediction_source"), "model_version")
        out = f"/tmp/spark-merge-{os.getpid()}"
        merged.write.mode("overwrite").parquet(out)
        rows = spark.read.parquet(out).count()
        return {"rows_in": rows, "rows_out": rows, "merge_seconds": round(time.perf_counter() - start, 3)}
    finally:
        spark.stop()


def machine() -> dict:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cores": os.cpu_count(), "memory_gib": round(mem, 1), "platform": platform.platform(),
            "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=250_000, help="source rows per pid bucket / batch")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--training-rows", type=int, default=200_000)
    parser.add_argument("--naive-rows", type=int, default=200_000, help="rows scored by the naive loop (it is slow)")
    parser.add_argument("--cache", default=str(ROOT / "bench" / "cache"))
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--skip-limits", action="store_true", help="skip each stage's same-run limit")
    args = parser.parse_args(argv)

    root = str(Path(args.cache) / str(args.rows))
    buckets = max(1, -(-args.rows // args.batch_rows))
    result = {"rows": args.rows, "buckets": buckets, "machine": machine(),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "stages": {}, "limits": {}, "baselines": {}}
    landing = DataLayout.at(root).landing(JOB, QUARTER)
    if not (landing / "_SUCCESS").exists():
        result["stages"]["generate"] = in_process("stage_generate", root=root, rows=args.rows)
    t = args.threads
    stages = [("source_snapshot", "stage_source", {"threads": t}),
              ("staging_features", "stage_staging", {"buckets": buckets, "threads": t}),
              ("training", "stage_training", {"max_rows": args.training_rows, "threads": t}),
              ("prediction", "stage_prediction", {"buckets": buckets, "threads": t}),
              ("final_merge", "stage_final_merge", {"buckets": buckets, "threads": t}),
              ("human_qa", "stage_qa", {"threads": t})]
    for name, fn, kw in stages:
        result["stages"][name] = in_process(fn, root=root, **kw)
        print(f"{name}: {result['stages'][name]}", flush=True)
        limit_fn, limit_kw = LIMITS.get(name, ("limit_predict", {"buckets": buckets}) if name == "prediction" else (None, None))
        if limit_fn and not args.skip_limits:
            limit = in_process(limit_fn, root=root, threads=t, **limit_kw)
            bare = limit.get("copy_seconds", limit.get("predict_seconds"))
            limit["stage_to_limit"] = round(result["stages"][name]["seconds"] / bare, 2)
            result["limits"][name] = limit
            print(f"  limit ({limit_fn}): {bare:.2f}s, stage / limit = {limit['stage_to_limit']}", flush=True)
    if not args.skip_baselines:
        for name, fn, kw in [("naive_inference", "baseline_naive_inference", {"max_rows": args.naive_rows}),
                             ("pandas_merge", "baseline_pandas_merge", {}),
                             ("spark_merge", "baseline_spark_merge", {})]:
            try:
                result["baselines"][name] = in_process(fn, root=root, **kw)
            except RuntimeError as exc:
                result["baselines"][name] = {"error": str(exc)}
            print(f"{name}: {result['baselines'][name]}", flush=True)
        ratios(result)
    out = ROOT / "bench" / "results" / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{args.rows}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"results: {out}")
    return 0


def ratios(result: dict) -> None:
    stages, base = result["stages"], result["baselines"]
    pred, naive = stages["prediction"], base.get("naive_inference", {})
    if naive.get("loop_rows_per_s"):
        base["prediction_speedup_vs_naive"] = round(pred["rows_per_s"] / naive["loop_rows_per_s"], 1)
    merge_s = stages["final_merge"]["seconds"]
    for name in ("pandas_merge", "spark_merge"):
        if base.get(name, {}).get("merge_seconds"):
            base[f"final_speedup_vs_{name}"] = round(base[name]["merge_seconds"] / merge_s, 2)


def table(result: dict) -> str:
    lines = [f"predict_age benchmark, {result['rows']:,} rows, {result['buckets']} buckets, "
             f"{result['machine']['cores']} cores, {result['machine']['memory_gib']} GiB",
             f"{'stage':<22}{'seconds':>10}{'rows in':>14}{'rows/s':>12}{'peak RSS MB':>13}"]
    for name, s in result["stages"].items():
        lines.append(f"{name:<22}{s['seconds']:>10.2f}{s.get('rows_in', 0):>14,}{s.get('rows_per_s', 0):>12,}"
                     f"{s['peak_rss_mb']:>13,.0f}")
    total = sum(s["seconds"] for n, s in result["stages"].items() if n != "generate")
    lines.append(f"{'total (no generate)':<22}{total:>10.2f}")
    for name, limit in result.get("limits", {}).items():
        bare = limit.get("copy_seconds", limit.get("predict_seconds"))
        lines.append(f"limit of {name}: {bare:.2f}s on {limit['rows_in']:,} rows, stage / limit = {limit['stage_to_limit']}")
    for k, v in result["baselines"].items():
        lines.append(f"baseline {k}: {v}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
