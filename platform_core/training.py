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

from platform_core import duck
from platform_core.features import NameEncoder, categorical_levels, feature_matrix, feature_names
from platform_core.metrics import confidence_deciles, interval_metrics, metrics_by_age_band, regression_metrics
from platform_core.models import (
    INTERVAL_ALPHA, RidgeModel, booster_to_bytes, confidence_from_interval, conformal_margin, predict_booster,
    train_xgboost,
)
from platform_core.storage import atomic_file

CODE_FILES = ["features.py", "models.py", "training.py"]


def code_version() -> str:
    """Fingerprint of the code that shapes a model, so a model names the code that made it."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in CODE_FILES + ["../sql/training_features.sql", "../sql/staging_features.sql"]:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:12]


def build_training_features(staging_dir: Path, target: Path, max_rows: int, seed: int, threads: int | None = None) -> dict:
    con = duck.connect(threads)
    duck.view(con, "staging_features", staging_dir)
    with atomic_file(target) as tmp:
        duck.copy_to_parquet(con, duck.load_sql("training_features"), {"max_rows": max_rows, "seed": seed}, tmp)
        duck.view(con, "training_features", tmp)
        counts = dict(con.execute("SELECT split, count(*) FROM training_features GROUP BY 1").fetchall())
        available = con.execute("SELECT count(*) FROM staging_features WHERE existing_age IS NOT NULL").fetchone()[0]
    con.close()
    return {"rows": sum(counts.values()), "rows_available": available, "splits": counts}


@dataclass
class XGBoostSettings:
    max_depth: int = 6
    learning_rate: float = 0.2
    rounds: int = 300
    early_stopping: int = 20
    max_bin: int = 256
    nthread: int = 2
    seed: int = 7

    def params(self) -> dict:
        return {"max_depth": self.max_depth, "eta": self.learning_rate, "subsample": 0.8,
                "colsample_bytree": 0.8, "min_child_weight": 5, "max_bin": self.max_bin,
                "nthread": self.nthread, "seed": self.seed}


@dataclass
class TrainedModels:
    """What a training run produced: model files per model, their metadata, and the evaluation."""

    files: dict[str, dict[str, bytes]]
    metadata: dict[str, dict]
    evaluation: dict = field(default_factory=dict)


def _fingerprint(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(frame["pid"].to_numpy().astype(np.int64).tobytes())
    digest.update(frame["existing_age"].to_numpy().astype(np.int32).tobytes())
    digest.update(frame["split"].cast(pl.Categorical).to_physical().to_numpy().astype(np.int8).tobytes())
    return digest.hexdigest()[:16]


def _group_errors(frame: pl.DataFrame, y: np.ndarray, pred: np.ndarray, column: str, labels: dict) -> list[dict]:
    rows = []
    codes = frame[column].to_numpy()
    for code, label in labels.items():
        mask = codes == code if code is not None else frame[column].is_null().to_numpy()
        if mask.sum():
            m = regression_metrics(y[mask], pred[mask])
            rows.append({"attribute": column.removesuffix("_code"), "group": label, "rows": m["rows"],
                         "mae": m["mae"], "bias": m["bias"]})
    return rows


def train_age_models(training_path: Path, *, sensitive_as_features: bool, interval_coverage: float,
                     xgb: XGBoostSettings) -> TrainedModels:
    frame = pl.read_parquet(training_path)
    split = {name: frame.filter(pl.col("split") == name) for name in ("train", "validation", "calibration", "test")}
    for name, part in split.items():
        if part.height == 0:
            raise ValueError(f"training_features has no {name} rows; the quarter has too few rows with an existing age")
    features = feature_names(sensitive_as_features)
    levels = categorical_levels(features)
    y = {k: v["existing_age"].to_numpy().astype(np.float32) for k, v in split.items()}
    encoder = NameEncoder.fit(split["train"]["first_name"], y["train"])
    X = {k: feature_matrix(v, encoder, features) for k, v in split.items()}
    encoder_json = json.dumps(encoder.to_json(), sort_keys=True).encode()

    ridge = RidgeModel.fit(X["train"], y["train"], features, levels)
    point = train_xgboost(X["train"], y["train"], X["validation"], y["validation"], objective="reg:squarederror",
                          params=xgb.params(), rounds=xgb.rounds, early_stopping=xgb.early_stopping)
    quantile = train_xgboost(X["train"], y["train"], X["validation"], y["validation"], objective="reg:quantileerror",
                             params=xgb.params(), rounds=xgb.rounds, early_stopping=xgb.early_stopping,
                             quantiles=INTERVAL_ALPHA)

    def bounds(matrix: np.ndarray, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        q = predict_booster(quantile, matrix, quantile.best_iteration)
        return np.minimum(q[:, 0], q[:, 1]) - margin, np.maximum(q[:, 0], q[:, 1]) + margin

    margin = conformal_margin(y["calibration"], *bounds(X["calibration"]), coverage=interval_coverage)
    test_pred = {"ridge": ridge.predict(X["test"]),
                 "xgboost": predict_booster(point, X["test"], point.best_iteration)}
    lower, upper = bounds(X["test"], margin)
    confidence = confidence_from_interval(lower, upper)
    train_ages = y["train"]
    default_age = int(np.median(train_ages))
    default_confidence = round(float((np.abs(train_ages - default_age) <= 5).mean()), 4)

    y_test = y["test"]
    fairness = (
        _group_errors(split["test"], y_test, test_pred["xgboost"], "gender_code", {0: "M", 1: "F", None: "unknown"})
        + _group_errors(split["test"], y_test, test_pred["xgboost"], "region_code",
                        {0: "northeast", 1: "midwest", 2: "south", 3: "west", None: "unknown"})
    )
    evaluation = {
        "test_rows": int(len(y_test)),
        "ridge": regression_metrics(y_test, test_pred["ridge"]),
        "xgboost": regression_metrics(y_test, test_pred["xgboost"]),
        "xgboost_by_age_band": metrics_by_age_band(y_test, test_pred["xgboost"]),
        "interval": {"nominal": interval_coverage, **interval_metrics(y_test, lower, upper)},
        "confidence_deciles": confidence_deciles(y_test, test_pred["xgboost"], confidence),
        "fairness": fairness,
    }
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
            "interval": {"model.ubj": booster_to_bytes(quantile), "name_encoder.json": encoder_json},
        },
        metadata={
            "ridge": {**common, "metrics": evaluation["ridge"], "params": {"alpha": 1.0}},
            "xgboost": {**common, "metrics": evaluation["xgboost"], "params": xgb.params(),
                        "best_iteration": int(point.best_iteration),
                        "default_rule": {"age": default_age, "confidence": default_confidence}},
            "interval": {**common, "metrics": evaluation["interval"], "params": xgb.params(),
                         "best_iteration": int(quantile.best_iteration), "quantiles": list(INTERVAL_ALPHA),
                         "conformal_margin": round(margin, 6), "nominal_coverage": interval_coverage},
        },
        evaluation=evaluation,
    )
