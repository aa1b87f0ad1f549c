"""Training: determinism, no leakage from truth or held-out rows, honest evaluation."""

import shutil

import numpy as np
import polars as pl
import pytest

from platform_assets.predict_age.logic.evaluation import missing_rows_sample
from platform_assets.predict_age.logic.source import build_source_snapshot
from platform_assets.predict_age.logic.staging import build_staging_features
from platform_assets.predict_age.logic.training import XGBoostSettings, build_training_features, train_age_models
from platform_core.storage import current
from tests.conftest import QUARTER


@pytest.fixture(scope="module")
def training_path(small_snapshot, tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    build_source_snapshot(small_snapshot.landing("predict_age", QUARTER), root / "source", QUARTER.start, 18, 100)
    build_staging_features(current(root / "source"), root / "staging", QUARTER.start, 4)
    build_training_features(current(root / "staging"), root / "training.parquet", max_rows=1_000_000, seed=7)
    return root / "training.parquet"


def train(path, **kw):
    return train_age_models(path, sensitive_as_features=False, interval_coverage=0.8,
                            xgb=XGBoostSettings(nthread=2, seed=7, **kw))


def test_same_data_and_seed_give_byte_identical_models(training_path):
    a, b = train(training_path), train(training_path)
    assert a.files == b.files
    assert a.metadata == b.metadata


def test_training_data_never_contains_truth_and_truth_cannot_change_it(training_path, small_snapshot, tmp_path):
    frame = pl.read_parquet(training_path)
    assert "true_age" not in frame.columns
    assert set(frame["split"].unique()) == {"train", "validation", "calibration", "test"}
    # the split does not depend on age: every band is split alike (about 70/10/10/10)
    shares = frame.group_by("age_band").agg((pl.col("split") == "test").mean().alias("test"),
                                             (pl.col("split") == "train").mean().alias("train"), pl.len())
    big = shares.filter(pl.col("len") >= 500)
    assert big["test"].min() > 0.06 and big["test"].max() < 0.14 and big["train"].min() > 0.64
    # scrambling ground truth changes nothing upstream of evaluation
    copy = tmp_path / "copy"
    shutil.copytree(small_snapshot.root, copy)
    truth = copy / "truth" / "predict_age" / QUARTER.label
    for f in truth.glob("*.parquet"):
        pl.read_parquet(f).with_columns(pl.lit(99).alias("true_age")).write_parquet(f)
    build_source_snapshot(copy / "landing" / "predict_age" / QUARTER.label, tmp_path / "s", QUARTER.start, 18, 100)
    build_staging_features(current(tmp_path / "s"), tmp_path / "st", QUARTER.start, 4)
    build_training_features(current(tmp_path / "st"), tmp_path / "t.parquet", max_rows=1_000_000, seed=7)
    assert pl.read_parquet(tmp_path / "t.parquet").equals(frame)


def test_held_out_labels_cannot_influence_the_name_encoder(training_path, tmp_path):
    frame = pl.read_parquet(training_path)
    shifted = frame.with_columns(
        pl.when(pl.col("split") != "train").then(pl.col("existing_age") + 20).otherwise(pl.col("existing_age"))
        .alias("existing_age"))
    shifted.write_parquet(tmp_path / "shifted.parquet")
    a = train(training_path, rounds=5)
    b = train(tmp_path / "shifted.parquet", rounds=5)
    assert a.files["xgboost"]["name_encoder.json"] == b.files["xgboost"]["name_encoder.json"]
    assert a.evaluation["xgboost"]["mae"] != b.evaluation["xgboost"]["mae"]  # the test labels did change


def test_evaluation_reports_what_the_gates_need(training_path):
    ev = train(training_path).evaluation
    assert ev["xgboost"]["mae"] < ev["ridge"]["mae"]
    assert 0.75 <= ev["interval"]["coverage"] <= 0.85
    assert ev["confidence_deciles"][-1]["mae"] < ev["confidence_deciles"][0]["mae"]
    assert {r["attribute"] for r in ev["fairness"]} == {"gender", "region", "age_band"}
    shares = [f["gain_share"] for f in ev["feature_importance"]]
    assert len(shares) == 10 and shares == sorted(shares, reverse=True) and sum(shares) <= 1.0


def test_missing_rows_sample_is_the_smallest_pid_hashes_with_their_truth(tmp_path):
    rng = np.random.default_rng(3)
    pids = rng.permutation(5_000).astype(np.int64)
    for bucket, part in enumerate(np.array_split(pids, 4)):
        (tmp_path / "staging" / f"bucket={bucket}").mkdir(parents=True)
        pl.DataFrame({"pid": part, "needs_prediction": part % 3 != 0, "x": part * 2}).write_parquet(
            tmp_path / "staging" / f"bucket={bucket}" / "data_0.parquet")
    (tmp_path / "truth").mkdir()
    pl.DataFrame({"pid": pids, "true_age": (pids % 80 + 18).astype(np.int32)}).write_parquet(tmp_path / "truth" / "part-0.parquet")
    sample = missing_rows_sample(tmp_path / "staging", tmp_path / "truth", 300)
    everything = (pl.DataFrame({"pid": pids}).filter(pl.col("pid") % 3 != 0)
                  .sort(pl.col("pid").hash(7), "pid").head(300))
    assert sample["pid"].to_list() == everything["pid"].to_list()
    assert sample.columns == ["pid", "needs_prediction", "x", "true_age"]
    assert (sample["true_age"] == sample["pid"] % 80 + 18).all() and (sample["x"] == 2 * sample["pid"]).all()
