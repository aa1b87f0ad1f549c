"""The `prediction_batches` stage: score one bucket's rows that need a prediction.

Only rows with no usable existing age or birth year are scored (the smart filter). A row with
fewer than `min_features` usable inputs gets the default rule (the training median, with the
share of training ages within 5 years of it as its confidence) instead of a model guess
dressed up as one. Columnar end to end: one float32 matrix per batch, `inplace_predict`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from platform_core.features import NameEncoder, feature_matrix, usable_feature_count
from platform_core.models import booster_from_bytes, confidence_from_interval, predict_booster
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.staging import bucket_dir
from platform_core.storage import atomic_file

PREDICTION_SCHEMA = {
    "pid": pl.Int64, "predicted_age": pl.Int32, "confidence_score": pl.Float64,
    "prediction_source": pl.String, "model_version": pl.String,
    "lower_age": pl.Float32, "upper_age": pl.Float32,
}


@dataclass
class LoadedModels:
    """The champion point and interval models, verified against their checksums."""

    point_ref: ModelRef
    interval_ref: ModelRef
    point: object
    interval: object
    point_iteration: int
    interval_iteration: int
    margin: float
    encoder: NameEncoder
    features: list[str]
    default_age: int
    default_confidence: float

    @classmethod
    def champion(cls, registry: ModelRegistry, job: str, nthread: int) -> "LoadedModels":
        refs = registry.champion(job)
        point_meta, interval_meta = registry.metadata(refs["xgboost"]), registry.metadata(refs["interval"])
        return cls(
            point_ref=refs["xgboost"],
            interval_ref=refs["interval"],
            point=booster_from_bytes(registry.load_file(refs["xgboost"], "model.ubj"), nthread),
            interval=booster_from_bytes(registry.load_file(refs["interval"], "model.ubj"), nthread),
            point_iteration=point_meta["best_iteration"],
            interval_iteration=interval_meta["best_iteration"],
            margin=interval_meta["conformal_margin"],
            encoder=NameEncoder.from_json(json.loads(registry.load_file(refs["xgboost"], "name_encoder.json"))),
            features=point_meta["features"],
            default_age=point_meta["default_rule"]["age"],
            default_confidence=point_meta["default_rule"]["confidence"],
        )

    @property
    def version(self) -> str:
        return str(self.point_ref)


def score_frame(frame: pl.DataFrame, models: LoadedModels, min_features: int, min_age: int, max_age: int) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema=PREDICTION_SCHEMA)
    X = feature_matrix(frame, models.encoder, models.features)
    point = predict_booster(models.point, X, models.point_iteration)
    q = predict_booster(models.interval, X, models.interval_iteration)
    lower = np.minimum(q[:, 0], q[:, 1]) - models.margin
    upper = np.maximum(q[:, 0], q[:, 1]) + models.margin
    confidence = confidence_from_interval(lower, upper)
    use_model = usable_feature_count(frame, models.features) >= min_features
    age = np.where(use_model, np.clip(np.rint(point), min_age, max_age), models.default_age).astype(np.int32)
    return pl.DataFrame({
        "pid": frame["pid"],
        "predicted_age": age,
        "confidence_score": np.where(use_model, confidence, models.default_confidence).astype(np.float64),
        "prediction_source": np.where(use_model, "ML_PREDICTION", "DEFAULT_RULE"),
        "model_version": np.full(frame.height, models.version),
        "lower_age": np.where(use_model, lower, np.nan).astype(np.float32),
        "upper_age": np.where(use_model, upper, np.nan).astype(np.float32),
    }, schema=PREDICTION_SCHEMA)


def predict_batch(staging_dir: Path, bucket: int, target: Path, models: LoadedModels, *,
                  min_features: int, min_age: int, max_age: int) -> dict:
    frame = (
        pl.scan_parquet(bucket_dir(staging_dir, bucket) / "*.parquet")
        .filter(pl.col("needs_prediction"))
        .collect()
    )
    scored = score_frame(frame, models, min_features, min_age, max_age)
    with atomic_file(target) as tmp:
        scored.write_parquet(tmp, compression="zstd", row_group_size=262_144)
    by_source = scored.group_by("prediction_source").len().sort("prediction_source")
    return {
        "rows_in": frame.height,
        "rows_out": scored.height,
        "by_source": dict(zip(by_source["prediction_source"].to_list(), by_source["len"].to_list())),
        "model_version": models.version,
        "mean_confidence": round(float(scored["confidence_score"].mean() or 0.0), 4),
    }
