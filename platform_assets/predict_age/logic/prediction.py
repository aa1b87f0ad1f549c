"""The `prediction_batches` stage: score one bucket's rows that need a prediction.

Only rows with no usable existing age or birth year are scored (the smart filter). A row with
fewer than `min_features` usable inputs gets the default rule (the training median, with the
share of training ages within 5 years of it as its confidence) instead of a model guess
dressed up as one. Columnar end to end: one float32 matrix per staging file, `inplace_predict`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from platform_assets.predict_age.logic.features import NameEncoder, feature_matrix, usable_feature_count
from platform_assets.predict_age.logic.models import (
    booster_from_bytes,
    confidence_from_interval,
    normalized_bounds,
    predict_booster,
    predict_scale,
)
from platform_assets.predict_age.logic.staging import bucket_dir
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.storage import Location, atomic_file

PREDICTION_SCHEMA = {
    "pid": pl.Int64, "predicted_age": pl.Int32, "confidence_score": pl.Float64,
    "prediction_source": pl.String, "model_version": pl.String,
    "lower_age": pl.Float32, "upper_age": pl.Float32,
}


def load_encoder(registry: ModelRegistry, ref: ModelRef) -> NameEncoder:
    return NameEncoder.from_json(json.loads(registry.load_file(ref, "name_encoder.json")))


@dataclass
class PointModel:
    """A registered XGBoost point model with its name encoder, checksum-verified on load."""

    ref: ModelRef
    booster: object
    iteration: int
    encoder: NameEncoder
    features: list[str]
    default_age: int
    default_confidence: float

    @classmethod
    def load(cls, registry: ModelRegistry, ref: ModelRef, nthread: int) -> "PointModel":
        meta = registry.metadata(ref)
        return cls(
            ref=ref,
            booster=booster_from_bytes(registry.load_file(ref, "model.ubj"), nthread),
            iteration=meta["best_iteration"],
            encoder=load_encoder(registry, ref),
            features=meta["features"],
            default_age=meta["default_rule"]["age"],
            default_confidence=meta["default_rule"]["confidence"],
        )

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return predict_booster(self.booster, feature_matrix(frame, self.encoder, self.features), self.iteration)

    @property
    def version(self) -> str:
        return str(self.ref)


@dataclass
class LoadedModels:
    """The champion point model and its error-scale model, verified against their checksums."""

    point: PointModel
    scale: object
    scale_iteration: int
    factor: float

    @classmethod
    def champion(cls, registry: ModelRegistry, job: str, nthread: int) -> "LoadedModels":
        refs = registry.champion(job)
        interval_meta = registry.metadata(refs["interval"])
        if "conformal_factor" not in interval_meta:
            raise ValueError(f"champion {refs['interval']} was made by an older interval method; "
                             "retrain (materialize age_models) or promote a current version")
        return cls(
            point=PointModel.load(registry, refs["xgboost"], nthread),
            scale=booster_from_bytes(registry.load_file(refs["interval"], "model.ubj"), nthread),
            scale_iteration=interval_meta["best_iteration"],
            factor=interval_meta["conformal_factor"],
        )


def score_frame(frame: pl.DataFrame, models: LoadedModels, min_features: int, min_age: int, max_age: int) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema=PREDICTION_SCHEMA)
    pm = models.point
    X = feature_matrix(frame, pm.encoder, pm.features)
    point = predict_booster(pm.booster, X, pm.iteration)
    scale = predict_scale(models.scale, X, models.scale_iteration)
    lower, upper = normalized_bounds(point, scale, models.factor)
    confidence = confidence_from_interval(lower, upper)
    use_model = pl.Series(usable_feature_count(frame, pm.features) >= min_features)
    scored = pl.DataFrame({"pid": frame["pid"], "point": point, "confidence": confidence, "lower": lower, "upper": upper})
    ml = pl.lit(use_model)
    return scored.select(  # columnar: numpy buffers in, no per-row Python objects
        pl.col("pid"),
        pl.when(ml).then(pl.col("point").round().clip(min_age, max_age)).otherwise(pm.default_age)
        .cast(pl.Int32).alias("predicted_age"),
        pl.when(ml).then(pl.col("confidence")).otherwise(pm.default_confidence).cast(pl.Float64).alias("confidence_score"),
        pl.when(ml).then(pl.lit("ML_PREDICTION")).otherwise(pl.lit("DEFAULT_RULE")).alias("prediction_source"),
        pl.lit(pm.version, pl.String).alias("model_version"),
        pl.when(ml).then(pl.col("lower")).cast(pl.Float32).alias("lower_age"),
        pl.when(ml).then(pl.col("upper")).cast(pl.Float32).alias("upper_age"),
    )


def predict_batch(staging_dir: Location, bucket: int, target: Location, models: LoadedModels, *,
                  min_features: int, min_age: int, max_age: int) -> dict:
    """Score one bucket file by file into one Parquet file: memory is bounded by one staging
    file (staging.MAX_FILE_ROWS), whatever the quarter's size and batch count."""
    schema = pl.DataFrame(schema=PREDICTION_SCHEMA).to_arrow().schema
    rows_in, confidence, by_source = 0, 0.0, {}
    text = [name for name, kind in PREDICTION_SCHEMA.items() if kind == pl.String]  # dictionaries only pay for these
    with atomic_file(target) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=text) as writer:
        for file in sorted(bucket_dir(staging_dir, bucket).glob("*.parquet"), key=lambda f: f.name):
            frame = pl.scan_parquet(str(file)).filter(pl.col("needs_prediction")).collect()
            scored = score_frame(frame, models, min_features, min_age, max_age)
            writer.write_table(scored.to_arrow().cast(schema), row_group_size=262_144)
            rows_in += frame.height
            confidence += float(scored["confidence_score"].sum())
            for source, n in scored.group_by("prediction_source").len().iter_rows():
                by_source[source] = by_source.get(source, 0) + n
    return {
        "rows_in": rows_in,
        "rows_out": sum(by_source.values()),
        "by_source": dict(sorted(by_source.items())),
        "model_version": models.point.version,
        "mean_confidence": round(confidence / rows_in, 4) if rows_in else 0.0,
    }
