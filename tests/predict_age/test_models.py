"""Metrics, the confidence definition, conformal calibration, the Ridge baseline, the registry."""

import numpy as np
import pytest

from platform_assets.predict_age.logic.age_metrics import age_metrics as regression_metrics
from platform_assets.predict_age.logic.age_metrics import confidence_deciles
from platform_assets.predict_age.logic.models import RidgeModel, confidence_from_interval, conformal_margin
from platform_core.registry import ModelIntegrityError, ModelRegistry, NoChampionError


def test_regression_metrics_on_known_values():
    m = regression_metrics(np.array([20, 30, 40, 50]), np.array([22, 30, 34, 50]))
    assert m == {"rows": 4, "mae": 2.0, "rmse": round(np.sqrt(10), 4), "r2": round(1 - 40 / 500, 4),
                 "bias": -1.0, "within_5": 0.75}


def test_confidence_is_a_probability_that_falls_as_the_interval_widens():
    lower, upper = np.zeros(5), np.array([0.0, 2.0, 8.0, 20.0, 80.0])
    conf = confidence_from_interval(lower, upper)
    assert np.all((conf >= 0) & (conf <= 1))
    assert np.all(np.diff(conf) < 0)
    # width 2*1.2816*sigma with sigma=5: P(|N(0,5)| <= 5) = 0.6827
    assert confidence_from_interval(np.array([0.0]), np.array([2 * 1.2815515655446004 * 5]))[0] == pytest.approx(0.6827, abs=1e-3)


def test_conformal_margin_reaches_the_nominal_coverage_on_new_rows():
    rng = np.random.default_rng(0)
    y_cal, y_new = rng.normal(0, 5, 20_000), rng.normal(0, 5, 20_000)
    narrow = 2.0  # a badly under-covering raw interval [-2, 2]
    margin = conformal_margin(y_cal, np.full_like(y_cal, -narrow), np.full_like(y_cal, narrow), 0.8)
    coverage = np.mean(np.abs(y_new) <= narrow + margin)
    assert 0.79 <= coverage <= 0.81


def test_confidence_deciles_order_rows_by_confidence():
    y = np.zeros(100)
    pred = np.concatenate([np.full(50, 10.0), np.zeros(50)])
    conf = np.concatenate([np.full(50, 0.1), np.full(50, 0.9)])
    rows = confidence_deciles(y, pred, conf)
    assert rows[0]["mae"] == 10.0 and rows[-1]["mae"] == 0.0 and len(rows) == 10


def test_ridge_roundtrips_through_json_and_handles_missing_and_categories():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=500), rng.integers(0, 3, 500)]).astype(np.float32)
    y = 3 * X[:, 0] + np.array([0.0, 5.0, -5.0])[X[:, 1].astype(int)] + 40
    X[::7, 0] = np.nan
    model = RidgeModel.fit(X, y, ["x", "cat"], {"cat": 3}, alpha=0.01)
    again = RidgeModel.from_bytes(model.to_bytes())
    np.testing.assert_allclose(again.predict(X), model.predict(X))
    assert np.abs(model.predict(X) - y)[1::7].mean() < 0.1


def test_registry_is_content_addressed_immutable_and_checksummed(tmp_path):
    reg = ModelRegistry(tmp_path)
    a = reg.register("predict_age", "xgboost", "2025q3", {"model.ubj": b"abc"}, {"metrics": {"mae": 1}})
    b = reg.register("predict_age", "xgboost", "2025q3", {"model.ubj": b"abc"}, {"metrics": {"mae": 1}})
    c = reg.register("predict_age", "xgboost", "2025q3", {"model.ubj": b"abd"}, {"metrics": {"mae": 1}})
    assert a == b and a != c
    assert reg.load_file(a, "model.ubj") == b"abc"
    (tmp_path / "predict_age" / "xgboost" / a.version / "model.ubj").write_bytes(b"evil")
    with pytest.raises(ModelIntegrityError, match="refusing to load a tampered model"):
        reg.load_file(a, "model.ubj")
    with pytest.raises(ValueError, match="non-executable"):
        reg.register("predict_age", "xgboost", "2025q3", {"model.pkl": b"x"}, {})


def test_champion_promote_and_rollback_keep_history(tmp_path):
    reg = ModelRegistry(tmp_path)
    with pytest.raises(NoChampionError):
        reg.champion("predict_age")
    v1 = reg.register("predict_age", "xgboost", "2025q2", {"m": b"1"}, {})
    v2 = reg.register("predict_age", "xgboost", "2025q3", {"m": b"2"}, {})
    reg.promote("predict_age", {"xgboost": v1}, "first")
    reg.promote("predict_age", {"xgboost": v2}, "second")
    assert reg.champion("predict_age")["xgboost"] == v2
    assert reg.rollback("predict_age", "bad quarter")["xgboost"] == v1
    assert reg.champion("predict_age")["xgboost"] == v1
    assert [h["reason"] for h in reg.champion_history("predict_age")] == ["first", "second", "rollback: bad quarter"]
    assert reg.versions("predict_age", "xgboost") == sorted([v1.version, v2.version])


def test_decile_correlation_ranks_ties_like_scipy():
    from platform_assets.predict_age.logic.gates import decile_correlation

    deciles = [{"mae": m} for m in [5.0] + [4.0] * 9]  # MAE falls once, then ties
    assert decile_correlation(deciles) == pytest.approx(-0.5222, abs=1e-4)  # argsort ranks gave +0.44
    assert decile_correlation([{"mae": m} for m in [9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5]]) == pytest.approx(-1.0)
