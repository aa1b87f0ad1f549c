"""Synthetic world only: the models' accuracy on the rows that were actually missing.

The holdout measures error on rows that had an existing age. The rows the platform predicts
are the others, and (missing not at random) they differ. Where ground truth exists, every
registered model of the quarter is scored on a deterministic sample of those rows and compared
with the truth, side by side with its holdout figures. Truth is read here, after training,
and never by training.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from platform_assets.predict_age.logic.age_metrics import age_metrics, metrics_by_age_band
from platform_assets.predict_age.logic.features import feature_matrix
from platform_assets.predict_age.logic.models import RidgeModel
from platform_assets.predict_age.logic.prediction import PointModel, load_encoder
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.storage import Location


def missing_rows_sample(staging_dir: Location, truth_dir: Location, sample_rows: int) -> pl.DataFrame:
    """The rows that needed a prediction with the smallest pid hashes (deterministic), with their
    true age. The sample is a streaming bottom-k over the staging rows, so memory is the sample's,
    not the quarter's; only its pids are then looked up in the truth."""
    staging = pl.scan_parquet(str(staging_dir / "**" / "*.parquet"), hive_partitioning=False).filter(pl.col("needs_prediction"))
    order = pl.col("pid").hash(7).alias("_order")
    sample = staging.with_columns(order).bottom_k(sample_rows, by=["_order", "pid"]).collect(engine="streaming")
    truth = pl.scan_parquet(str(truth_dir / "*.parquet")).join(sample.lazy().select("pid"), on="pid", how="semi")
    return sample.join(truth.collect(engine="streaming"), on="pid", how="inner").sort("_order", "pid").drop("_order")


def evaluate_on_missing_rows(registry: ModelRegistry, refs: dict[str, ModelRef], frame: pl.DataFrame, nthread: int) -> dict:
    y = frame["true_age"].to_numpy().astype(np.float64)
    out = {"rows": frame.height}
    for name in ("ridge", "xgboost"):
        ref = refs[name]
        meta = registry.metadata(ref)
        if name == "ridge":
            X = feature_matrix(frame, load_encoder(registry, ref), meta["features"])
            pred = RidgeModel.from_bytes(registry.load_file(ref, "model.json")).predict(X)
        else:
            pred = PointModel.load(registry, ref, nthread).predict(frame)
        out[name] = {"holdout": meta["metrics"], "missing_rows": age_metrics(y, pred),
                     "missing_rows_by_age_band": metrics_by_age_band(y, pred)}
    return out
