"""A prediction batch scores its bucket one staging file at a time (memory bounded by one file)
and writes exactly what scoring the whole bucket at once gives."""

import polars as pl

from platform_assets.predict_age.logic import staging
from platform_assets.predict_age.logic.prediction import LoadedModels, predict_batch, score_frame
from platform_assets.predict_age.logic.publish import batch_file
from platform_assets.predict_age.logic.source import build_source_snapshot
from platform_assets.predict_age.logic.training import XGBoostSettings, build_training_features, train_age_models
from platform_core.registry import ModelRegistry
from platform_core.storage import current
from tests.conftest import QUARTER


def test_batch_scored_file_by_file_equals_the_bucket_scored_at_once(small_snapshot, tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "MAX_FILE_ROWS", 1_000)  # files of one 2,048-row group
    build_source_snapshot(small_snapshot.landing("predict_age", QUARTER), tmp_path / "source", QUARTER.start, 18, 100)
    staging.build_staging_features(current(tmp_path / "source"), tmp_path / "staging", QUARTER.start, 2)
    staged = current(tmp_path / "staging")
    build_training_features(staged, tmp_path / "training.parquet", max_rows=1_000_000, seed=7)
    trained = train_age_models(tmp_path / "training.parquet", sensitive_as_features=False, interval_coverage=0.8,
                               xgb=XGBoostSettings(rounds=40, scale_rounds=20))
    registry = ModelRegistry(tmp_path / "models")
    registry.promote("predict_age", {n: registry.register("predict_age", n, QUARTER.label, trained.files[n], trained.metadata[n])
                                     for n in trained.files}, reason="test")
    models = LoadedModels.champion(registry, "predict_age", 2)

    for bucket in range(2):
        files = list(staging.bucket_dir(staged, bucket).glob("*.parquet"))
        assert len(files) >= 2  # the bucket really is read in several pieces
        stats = predict_batch(staged, bucket, batch_file(tmp_path / "out", bucket), models, min_features=3, min_age=18, max_age=100)
        written = pl.read_parquet(batch_file(tmp_path / "out", bucket)).sort("pid")
        whole = pl.read_parquet(staging.bucket_dir(staged, bucket) / "*.parquet").filter(pl.col("needs_prediction"))
        expected = score_frame(whole, models, 3, 18, 100).sort("pid")
        assert written.equals(expected) and written.height == stats["rows_out"] == stats["rows_in"] > 0
        assert sum(stats["by_source"].values()) == written.height
        assert abs(stats["mean_confidence"] - written["confidence_score"].mean()) < 1e-4
