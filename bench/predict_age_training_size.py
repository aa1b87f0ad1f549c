"""predict_age: training time and accuracy at the reference's training size, on one quarter's data.

    python bench/predict_age_training_size.py --data /work/q378/data --sizes 1000000,5000000,14171644

Reads a quarter that `make run` has staged (its `staging_features` and the synthetic truth): for each
size the training sample is drawn by the asset's own SQL (`build_training_features`, stratified by
age band) and the models are trained by `train_age_models` with the job's settings (the point model,
its error scale and the calibrated interval), timed. Every size's models then score the same
`--eval-rows` rows that need a prediction (previously missing: the rows the quarter publishes a model
age for) through the prediction stage's `score_frame`, and are judged against the true ages: MAE,
within 5 years, interval coverage. The reference trained on 14,171,644 rows; the job's default is
200,000. Writes bench/results/<time>-predict-age-training-size.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from platform_assets.predict_age.logic.prediction import LoadedModels, score_frame
from platform_assets.predict_age.logic.staging import bucket_dir
from platform_assets.predict_age.logic.training import XGBoostSettings, build_training_features, train_age_models
from platform_core.registry import ModelRegistry
from platform_core.reports import markdown_table
from platform_core.storage import DataLayout, current

JOB = "predict_age"


def _quarter(layout: DataLayout) -> str:
    quarters = sorted(p.name for p in layout.table_area(JOB, "staging_features").iterdir() if p.is_dir())
    if not quarters:
        raise SystemExit(f"{layout.warehouse}: no staged quarter; run `make run` on this data root first")
    return quarters[-1]


def _evaluation_rows(layout: DataLayout, staging: Path, quarter: str, rows: int) -> pl.DataFrame:
    """Rows that need a prediction, from the first buckets until `rows`, with their true age."""
    frames, have, bucket = [], 0, 0
    while have < rows and bucket_dir(staging, bucket).exists():
        part = pl.scan_parquet(str(bucket_dir(staging, bucket) / "*.parquet")).filter(pl.col("needs_prediction")).collect()
        frames.append(part)
        have, bucket = have + len(part), bucket + 1
    frame = pl.concat(frames).head(rows)
    truth = pl.scan_parquet(str(layout.truth(JOB, quarter) / "*.parquet")).select("pid", "true_age")
    return frame.join(truth.filter(pl.col("pid").is_in(frame["pid"].implode())).collect(), on="pid", how="left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a data root where `make run` staged a quarter")
    parser.add_argument("--sizes", default="1000000,5000000,14171644")
    parser.add_argument("--eval-rows", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    layout = DataLayout.at(args.data)
    quarter = _quarter(layout)
    staging = current(layout.table(JOB, "staging_features", quarter))
    evaluation = _evaluation_rows(layout, staging, quarter, args.eval_rows)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.data) as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"training-{size}.parquet"
            started = time.perf_counter()
            sample = build_training_features(staging, path, size, 7, args.threads)
            built = time.perf_counter() - started
            started = time.perf_counter()
            trained = train_age_models(path, sensitive_as_features=False, interval_coverage=0.8,
                                       xgb=XGBoostSettings(nthread=args.threads))
            train_seconds = time.perf_counter() - started
            registry = ModelRegistry(Path(tmp) / f"models-{size}")
            refs = {n: registry.register(JOB, n, quarter, trained.files[n], trained.metadata[n]) for n in trained.files}
            registry.promote(JOB, refs, reason="bench")
            models = LoadedModels.champion(registry, JOB, args.threads)
            started = time.perf_counter()
            scored = score_frame(evaluation, models, min_features=3, min_age=18, max_age=100)
            score_seconds = time.perf_counter() - started
            judged = scored.with_columns(evaluation["true_age"]).filter(pl.col("prediction_source") == "ML_PREDICTION")
            error = (judged["predicted_age"].cast(pl.Float64) - judged["true_age"]).abs().to_numpy()
            inside = ((judged["true_age"] >= judged["lower_age"]) & (judged["true_age"] <= judged["upper_age"])).mean()
            row = {"training_rows": sample["rows"], "available_rows": sample["rows_available"], "sample_seconds": round(built, 1),
                   "train_seconds": round(train_seconds, 1), "trees": trained.metadata["xgboost"].get("best_iteration"),
                   "holdout_mae": trained.evaluation["xgboost"]["mae"], "previously_missing_rows": len(judged),
                   "previously_missing_mae": round(float(error.mean()), 4),
                   "previously_missing_within_5y": round(float((error <= 5).mean()), 4),
                   "interval_coverage": round(float(inside), 4), "score_rows_per_s": round(len(evaluation) / score_seconds),
                   "load_1min": round(os.getloadavg()[0], 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"{stamp}-predict-age-training-size"
    report = {"command": " ".join(["python", *sys.argv]), "data": str(args.data), "quarter": quarter, "cpus": os.cpu_count(),
              "evaluation_rows": len(evaluation), "sizes": rows}
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    header = (f"`{report['command']}`, quarter {quarter}, {os.cpu_count()} cores; judged on {len(evaluation):,} "
              "previously-missing rows against truth.")
    text = "\n".join([f"# predict_age: training size ({stamp})", "", header, "", markdown_table(rows), ""])
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
