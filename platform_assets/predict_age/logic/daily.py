"""Daily arrivals between snapshots: scored with the champion, monitored for drift.

A day is a one-bucket quarter in miniature: the same contract, staging SQL, scoring and merge,
so a daily row and a quarterly row of the same person are computed the same way.
"""

from __future__ import annotations

import polars as pl

from platform_assets.predict_age.logic.features import feature_matrix
from platform_assets.predict_age.logic.prediction import LoadedModels, load_encoder, predict_batch
from platform_assets.predict_age.logic.publish import batch_file, build_final_results
from platform_core import duck
from platform_core.drift import drift_report
from platform_core.periods import parse_day
from platform_core.registry import ModelRef, ModelRegistry
from platform_core.storage import DataLayout, Location, published


def score_day(staging_dir: Location, predictions_dir: Location, final_dir: Location, models: LoadedModels, *, min_features: int,
              min_age: int, max_age: int, existing_confidence: float) -> dict:
    stats = predict_batch(staging_dir, 0, batch_file(predictions_dir, 0), models,
                          min_features=min_features, min_age=min_age, max_age=max_age)
    figures = build_final_results(staging_dir, predictions_dir, final_dir, 1, existing_confidence=existing_confidence,
                                  min_age=min_age, max_age=max_age)
    return {**figures, "by_source": stats["by_source"], "model_version": stats["model_version"]}


def monitor_day(staging_dir: Location, final_dir: Location, registry: ModelRegistry, ref: ModelRef) -> list[dict]:
    """PSI of every model feature and of the ML predictions on the day's rows that needed a
    prediction, against the quarter's scoring population recorded with the model."""
    meta = registry.metadata(ref)
    encoder = load_encoder(registry, ref)
    frame = pl.read_parquet(str(staging_dir / "**" / "*.parquet"), hive_partitioning=False).filter(pl.col("needs_prediction"))
    predictions = (pl.read_parquet(str(final_dir / "*.parquet"))
                   .filter(pl.col("prediction_source") == "ML_PREDICTION")["predicted_age"].to_numpy())
    X = feature_matrix(frame, encoder, meta["features"])
    return drift_report(meta["drift_reference"], X, meta["features"], predictions, "predicted_age")


def daily_finals(layout: DataLayout) -> list[Location]:
    """The published final table of every day that passed its check: the files behind the daily
    catalog view (a day whose latest scoring failed keeps its last passing version, if any)."""
    area = layout.table_area("predict_age", "daily_predictions")
    days = sorted(d.name for d in area.iterdir() if _is_day(d.name)) if area.exists() else []
    versions = [published(area / day / "final") for day in days]
    return [v / "*.parquet" for v in versions if v is not None]


def _is_day(name: str) -> bool:
    try:
        parse_day(name)
    except ValueError:
        return False
    return True


def model_version_of(final_dir: Location) -> str:
    """The registry entry that scored a day (every scored row of a day names the same one)."""
    con = duck.connect()
    row = con.execute(f"SELECT model_version FROM {duck.parquet_source(final_dir)} "
                      "WHERE model_version IS NOT NULL LIMIT 1").fetchone()
    con.close()
    if row is None:
        raise ValueError(f"{final_dir}: no scored row carries a model version")
    return row[0]
