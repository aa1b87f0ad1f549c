"""The `training_features` and models stages of predict_age.

Training reads only rows that carry an existing age; ground truth is never read here. The
name encoder is fitted on the training split only, XGBoost stops early on the validation
split, the interval is calibrated on the calibration split, and every published metric comes
from the test split that no fitting step saw.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from platform_assets.predict_age.logic.age_metrics import (
    GENDERS,
    REGIONS,
    age_band_labels,
    age_metrics,
    confidence_deciles,
    metrics_by_age_band,
)
from platform_assets.predict_age.logic.features import NameEncoder, categorical_levels, feature_matrix, feature_names
from platform_assets.predict_age.logic.models import (
    RidgeModel,
    booster_to_bytes,
    confidence_from_interval,
    conformal_quantile,
    normalized_bounds,
    predict_booster,
    predict_scale,
    train_xgboost,
)
from platform_assets.predict_age.logic.prediction import PointModel
from platform_core import duck
from platform_core.drift import drift_reference
from platform_core.fairness import code_labels, group_errors
from platform_core.metrics import interval_metrics
from platform_core.storage import Location, atomic_file

CODE_FILES = ["features.py", "models.py", "training.py"]


def code_version() -> str:
    """Fingerprint of the code that shapes a model, so a model names the code that made it."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in CODE_FILES:
        digest.update((here / name).read_bytes())
    for name in ("training_features", "staging_features"):
        digest.update(duck.load_sql("predict_age", name).encode())
    return digest.hexdigest()[:12]


def build_training_features(staging_dir: Location, target: Location, max_rows: int, seed: int, threads: int | None = None) -> dict:
    con = duck.connect(threads)
    duck.view(con, "staging_features", staging_dir)
    with atomic_file(target) as tmp:
        duck.copy_to_parquet(con, duck.load_sql("predict_age", "training_features"), {"max_rows": max_rows, "seed": seed}, tmp)
        duck.view(con, "training_features", tmp)
        counts = dict(con.execute("SELECT split, count(*) FROM training_features GROUP BY 1").fetchall())
        available = con.execute("SELECT count(*) FROM staging_features WHERE existing_age IS NOT NULL").fetchone()[0]
    con.close()
    return {"rows": sum(counts.values()), "rows_available": available, "splits": counts}


@dataclass
class XGBoostSettings:
    """Chosen by measurement on 200k training rows (BENCHMARKS.md): deep, few trees for the point
    model (lower MAE and ~2x faster to score than depth 6), a tiny model for the error scale."""

    max_depth: int = 10
    learning_rate: float = 0.2
    rounds: int = 400
    early_stopping: int = 30
    scale_max_depth: int = 3
    scale_learning_rate: float = 0.3
    scale_rounds: int = 60
    max_bin: int = 256
    nthread: int = 2
    seed: int = 7

    def params(self) -> dict:
        return {"max_depth": self.max_depth, "eta": self.learning_rate, "subsample": 0.8,
                "colsample_bytree": 0.8, "min_child_weight": 5, "max_bin": self.max_bin,
                "nthread": self.nthread, "seed": self.seed}

    def scale_params(self) -> dict:
        return {**self.params(), "max_depth": self.scale_max_depth, "eta": self.scale_learning_rate}


@dataclass
class TrainedModels:
    """What a training run produced: model files per model, their metadata, and the evaluation."""

    files: dict[str, dict[str, bytes]]
    metadata: dict[str, dict]
    evaluation: dict = field(default_factory=dict)
    # per test row, the same rows for each: |error| of the candidate (XGBoost), of the Ridge baseline and
    # of the current champion (when there is one), and the candidate's confidence: what the judged gates read
    held_out: dict[str, np.ndarray] = field(default_factory=dict)


def _fingerprint(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(frame["pid"].to_numpy().astype(np.int64).tobytes())
    digest.update(frame["existing_age"].to_numpy().astype(np.int32).tobytes())
    digest.update(frame["split"].cast(pl.Categorical).to_physical().to_numpy().astype(np.int8).tobytes())
    return digest.hexdigest()[:16]


def fairness_table(frame: pl.DataFrame, y: np.ndarray, pred: np.ndarray) -> list[dict]:
    """Per-group held-out errors across gender, region and age band (of the known age)."""
    codes = {c: frame[c].cast(pl.Float64).fill_null(-1).to_numpy() for c in ("gender_code", "region_code")}
    return (group_errors("gender", code_labels(codes["gender_code"], GENDERS), y, pred)
            + group_errors("region", code_labels(codes["region_code"], REGIONS), y, pred)
            + group_errors("age_band", age_band_labels(y), y, pred))


def top_importances(booster, features: list[str], n: int = 10) -> list[dict]:
    gain = booster.get_score(importance_type="total_gain")
    named = {features[int(k[1:])] if k.startswith("f") and k[1:].isdigit() else k: v for k, v in gain.items()}
    total = sum(named.values()) or 1.0
    ranked = sorted(named.items(), key=lambda kv: -kv[1])[:n]
    return [{"feature": f, "gain_share": round(v / total, 4)} for f, v in ranked]


def scoring_population_sample(staging_dir: Location, rows: int = 50_000) -> pl.DataFrame:
    """A deterministic sample of the rows the model will score (no usable age): the reference
    that daily monitoring compares arrivals with. The training rows are not that reference:
    ages are missing not at random, so the rows that have one are a different population."""
    return (pl.scan_parquet(str(staging_dir / "**" / "*.parquet"), hive_partitioning=False)
            .filter(pl.col("needs_prediction")).sort(pl.col("pid").hash(11), "pid").head(rows).collect())


def train_age_models(training_path: Location, *, sensitive_as_features: bool, interval_coverage: float,
                     xgb: XGBoostSettings, champion: PointModel | None = None,
                     scoring_population: pl.DataFrame | None = None) -> TrainedModels:
    """Train, calibrate and evaluate. With `champion`, the current champion is scored on the
    same test rows, so the champion/challenger rule compares like with like. The drift
    reference is built on `scoring_population` (or the test split when none is given)."""
    frame = pl.read_parquet(str(training_path))
    split = {name: frame.filter(pl.col("split") == name) for name in ("train", "validation", "calibration", "test")}
    for name, part in split.items():
        if part.height == 0:
            raise ValueError(f"training_features has no {name} rows; the quarter has too few rows with an existing age")
    features = feature_names(sensitive_as_features)
    levels = categorical_levels(features)
    y = {k: v["existing_age"].to_numpy().astype(np.float32) for k, v in split.items()}
    encoder = NameEncoder.fit(split["train"]["first_name"], y["train"])
    X = {k: feature_matrix(v, encoder, features) for k, v in split.items()}
    if champion is not None:  # the champion scores with its own encoder and features
        champion_pred = champion.predict(split["test"])
    encoder_json = json.dumps(encoder.to_json(), sort_keys=True).encode()

    ridge = RidgeModel.fit(X["train"], y["train"], features, levels)
    point = train_xgboost(X["train"], y["train"], X["validation"], y["validation"], objective="reg:squarederror",
                          params=xgb.params(), rounds=xgb.rounds, early_stopping=xgb.early_stopping)
    point_pred = {k: predict_booster(point, X[k], point.best_iteration) for k in X}
    abs_error = {k: np.abs(y[k] - point_pred[k]) for k in X}
    scale_model = train_xgboost(X["train"], abs_error["train"], X["validation"], abs_error["validation"],
                                objective="reg:squarederror", params=xgb.scale_params(), rounds=xgb.scale_rounds,
                                early_stopping=xgb.early_stopping)
    scale = {k: predict_scale(scale_model, X[k], scale_model.best_iteration) for k in ("calibration", "test")}
    factor = conformal_quantile(abs_error["calibration"] / scale["calibration"], interval_coverage)
    test_pred = {"ridge": ridge.predict(X["test"]), "xgboost": point_pred["test"]}
    valid_pred = {"ridge": ridge.predict(X["validation"]), "xgboost": point_pred["validation"]}
    lower, upper = normalized_bounds(point_pred["test"], scale["test"], factor)
    confidence = confidence_from_interval(lower, upper)
    X_ref = X["test"] if scoring_population is None else feature_matrix(scoring_population, encoder, features)
    train_ages = y["train"]
    default_age = int(np.median(train_ages))
    default_confidence = round(float((np.abs(train_ages - default_age) <= 5).mean()), 4)

    y_test = y["test"]
    evaluation = {
        "test_rows": int(len(y_test)),
        "validation": {m: age_metrics(y["validation"], p) for m, p in valid_pred.items()},
        "ridge": age_metrics(y_test, test_pred["ridge"]),
        "xgboost": age_metrics(y_test, test_pred["xgboost"]),
        "xgboost_by_age_band": metrics_by_age_band(y_test, test_pred["xgboost"]),
        "ridge_by_age_band": metrics_by_age_band(y_test, test_pred["ridge"]),
        "interval": {"nominal": interval_coverage, **interval_metrics(y_test, lower, upper)},
        "confidence_deciles": confidence_deciles(y_test, test_pred["xgboost"], confidence),
        "fairness": fairness_table(split["test"], y_test, test_pred["xgboost"]),
        "feature_importance": top_importances(point, features),
        "training_data": {"rows": int(frame.height), "splits": {k: int(v.height) for k, v in split.items()},
                          "mean_age": round(float(train_ages.mean()), 3), "median_age": default_age},
    }
    if champion is not None:
        evaluation["champion"] = {"version": champion.version, **age_metrics(y_test, champion_pred)}
    common = {
        "features": features,
        "training_rows": {k: int(v.height) for k, v in split.items()},
        "training_fingerprint": _fingerprint(frame),
        "code_version": code_version(),
        "sensitive_as_features": sensitive_as_features,
    }
    return TrainedModels(
        files={
            "ridge": {"model.json": ridge.to_bytes(), "name_encoder.json": encoder_json},
            "xgboost": {"model.ubj": booster_to_bytes(point), "name_encoder.json": encoder_json},
            "interval": {"model.ubj": booster_to_bytes(scale_model), "name_encoder.json": encoder_json},
        },
        metadata={
            "ridge": {**common, "metrics": evaluation["ridge"], "params": {"alpha": 1.0}},
            "xgboost": {**common, "metrics": evaluation["xgboost"], "params": xgb.params(),
                        "best_iteration": int(point.best_iteration),
                        "drift_reference": drift_reference(X_ref, features, predict_booster(point, X_ref, point.best_iteration)),
                        "default_rule": {"age": default_age, "confidence": default_confidence}},
            "interval": {**common, "metrics": evaluation["interval"], "params": xgb.scale_params(),
                         "best_iteration": int(scale_model.best_iteration),
                         "method": "normalized conformal: point ± factor * predicted |error|",
                         "conformal_factor": round(factor, 6), "nominal_coverage": interval_coverage},
        },
        evaluation=evaluation,
        held_out={"candidate": np.abs(y_test - test_pred["xgboost"]).astype(np.float64),
                  "ridge": np.abs(y_test - test_pred["ridge"]).astype(np.float64), "confidence": confidence,
                  **({"champion": np.abs(y_test - champion_pred).astype(np.float64)} if champion is not None else {})},
    )
