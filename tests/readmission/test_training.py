"""Training rows and encoders see only the train window; folds never split a patient; the tiny
search returns a fitted model per algorithm with a threshold from out-of-fold predictions."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from platform_assets.readmission.logic import preprocessing, training
from platform_assets.readmission.logic.preprocessing import LeakageError
from platform_assets.readmission.logic.schema import CATEGORICAL_FEATURES, LABEL, NUMERIC_FEATURES
from platform_core.storage import DataLayout, atomic_dir
from tests.readmission.helpers import make_encounters, tiny_config, windows

CONFIG = tiny_config()


@pytest.fixture(scope="module")
def frames():
    return windows(make_encounters(5_000, seed=11), CONFIG)


@pytest.fixture(scope="module")
def trained(frames):
    others = {"test": frames["test"], "oot": frames["oot"]}
    return training.train_all(frames["train"], CONFIG, others, n_jobs=1)


def test_encoders_are_fitted_on_train_rows_only_and_refuse_other_windows(frames):
    train, oot = frames["train"], frames["oot"]
    new_code = oot.with_columns(pl.when(pl.int_range(pl.len()) < 10).then(pl.lit("OnlyInOOT")).otherwise(pl.col("payer_code"))
                                .alias("payer_code"))
    prep = preprocessing.fit_preprocessor(train, CONFIG.windows.train)
    assert "OnlyInOOT" not in prep.categories["payer_code"]
    assert prep.fitted_on == {"window": ["1999-01-01", "2005-12-31"], "rows": len(train)}
    _, codes = prep.codes(new_code)
    payer = codes[:, prep.categorical.index("payer_code")]
    assert (payer[:10] == preprocessing.UNKNOWN_CODE).all()
    onehot = prep.transform(new_code, "onehot")
    payer_columns = [j for j, name in enumerate(prep.feature_names("onehot")) if name.startswith("payer_code=")]
    assert onehot[:10][:, payer_columns].sum() == 0
    assert onehot.shape[1] == len(prep.feature_names("onehot")) and prep.transform(train, "ordinal").shape[1] == 27
    with pytest.raises(LeakageError, match="outside the train window"):
        preprocessing.fit_preprocessor(pl.concat([train, oot.head(3)]), CONFIG.windows.train)


def test_scaling_and_medians_come_from_the_train_window(frames):
    prep = preprocessing.fit_preprocessor(frames["train"], CONFIG.windows.train)
    j = NUMERIC_FEATURES.index("number_inpatient")
    values = frames["train"]["number_inpatient"].to_numpy().astype(np.float64)
    assert prep.means[j] == pytest.approx(values.mean()) and prep.scales[j] == pytest.approx(values.std())
    scaled = prep.transform(frames["train"], "onehot")[:, j]
    assert abs(scaled.mean()) < 1e-4 and scaled.std() == pytest.approx(1.0, abs=1e-3)
    assert preprocessing.Preprocessor.from_json(prep.to_json()) == prep


def test_leakage_check_passes_clean_windows_and_catches_each_leak(frames):
    train, test, oot = frames["train"], frames["test"], frames["oot"]
    prep = preprocessing.fit_preprocessor(train, CONFIG.windows.train)
    figures = preprocessing.check_no_leakage(CONFIG, train, {"test": test, "oot": oot}, prep)
    assert figures["test_encounters_in_train"] == figures["oot_encounters_in_train"] == 0
    assert figures["train_last_date"] <= "2005-12-31" and figures["encoders_fitted_on_rows"] == len(train)
    with pytest.raises(LeakageError, match="outside the train window"):
        preprocessing.check_no_leakage(CONFIG, pl.concat([train, oot.head(1)]), {"oot": oot})
    relabelled = oot.head(2).with_columns(pl.lit(date(2005, 6, 1)).alias("encounter_date"))
    with pytest.raises(LeakageError, match="2 encounters of the oot window are in the training rows"):
        preprocessing.check_no_leakage(CONFIG, pl.concat([train, relabelled]), {"oot": oot})
    with pytest.raises(LeakageError, match="encoders were fitted on"):
        preprocessing.check_no_leakage(CONFIG, train.head(100), {"oot": oot}, prep)


def test_grouped_folds_never_split_a_patient():
    frame = make_encounters(3_000, seed=3, encounters_per_patient=3.0)
    y, groups = frame[LABEL].to_numpy(), frame["patient_nbr"].to_numpy()
    folds = training.grouped_folds(y, groups, 5, seed=7)
    assert len(folds) == 5 and training.patients_in_several_folds(folds, groups) == 0
    assert sorted(np.concatenate([v for _, v in folds]).tolist()) == list(range(len(y)))
    shares = [y[v].mean() for _, v in folds]
    assert max(shares) - min(shares) < 0.05
    from sklearn.model_selection import StratifiedKFold

    plain = list(StratifiedKFold(5, shuffle=True, random_state=7).split(np.zeros(len(y)), y))
    assert training.patients_in_several_folds(plain, groups) > 100  # what grouping prevents


def test_threshold_policies():
    y = np.array([0, 0, 0, 0, 1, 1, 0, 1])
    p = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.6, 0.62, 0.9])
    assert training.choose_threshold(y, p, "max_f1") == pytest.approx(0.35)
    assert training.choose_threshold(y, p, "youden") == pytest.approx(0.35)
    assert training.choose_threshold(y, p, "fixed", 0.42) == 0.42
    with pytest.raises(ValueError, match="unknown threshold policy"):
        training.choose_threshold(y, p, "median")


def test_every_algorithm_is_tuned_with_the_budget_and_fitted(trained, frames):
    models, figures = trained
    assert list(models) == CONFIG.algorithms
    assert figures["leakage"]["oot_encounters_in_train"] == 0 and figures["train_rows"] == len(frames["train"])
    y_test = frames["test"][LABEL].to_numpy()
    from sklearn.metrics import roc_auc_score

    for algorithm, result in models.items():
        assert result.search["candidates"] == 3 and result.search["strategy"] == "halving"
        assert 0.55 < result.cv_auc < 0.85 and abs(result.oof_auc - result.cv_auc) < 0.08
        assert set(result.params) == set(training.search_space(algorithm))
        assert 0.0 < result.model.threshold < 0.6 and result.fit_seconds > 0
        assert len(result.oof_probability) == len(frames["train"])
        probability = result.model.predict_proba(frames["test"])
        assert probability.shape == (len(frames["test"]),) and ((probability > 0) & (probability < 1)).all()
        assert roc_auc_score(y_test, probability) > 0.55, algorithm
    forest = models["random_forest"].model.estimator
    assert forest.n_estimators <= 150 and forest.min_samples_leaf >= 20 and forest.max_depth <= 16


def test_random_strategy_is_the_seeds_search_over_the_same_candidates(frames):
    train = frames["train"]
    prep = preprocessing.fit_preprocessor(train, CONFIG.windows.train)
    X = prep.transform(train, "onehot")
    y = train[LABEL].to_numpy()
    folds = training.grouped_folds(y, train["patient_nbr"].to_numpy(), 2, seed=7)
    seed_like = training.search("logistic_regression", X, y, folds, "random", 3, seed=7, n_jobs=1)
    halving = training.search("logistic_regression", X, y, folds, "halving", 3, seed=7, n_jobs=1)
    assert seed_like["fits"] == 6 and seed_like["full_size_fits"] == 6.0
    assert halving["full_size_fits"] < seed_like["full_size_fits"]
    assert halving["cv_auc"] > 0.55 and halving["fits"] > seed_like["fits"]  # more, smaller fits: 3 on 1/3 of rows, then 1 on all
    with pytest.raises(ValueError, match="unknown search strategy"):
        training.search("logistic_regression", X, y, folds, "grid", 3, seed=7, n_jobs=1)


def test_windows_load_from_gold_tables_with_counts(tmp_path, frames):
    layout = DataLayout.at(tmp_path)
    oot = frames["oot"]
    for month in CONFIG.windows.oot.months():
        rows = oot.filter(pl.col("encounter_date").dt.strftime("%Y-%m") == month)
        with atomic_dir(layout.table("readmission", "feature_store", month)) as tmp:
            rows.select("encounter_id", "patient_nbr", "encounter_date", *NUMERIC_FEATURES, *CATEGORICAL_FEATURES).write_parquet(tmp / "f.parquet")
        with atomic_dir(layout.table("readmission", "label_store", month)) as tmp:
            rows.select("encounter_id", "patient_nbr", "encounter_date", LABEL).slice(1).write_parquet(tmp / "l.parquet")
    frame, counts = preprocessing.load_window(layout, CONFIG.windows.oot)
    assert counts["feature_rows"] == len(oot) and counts["features_without_label"] == 12
    assert counts["rows"] == len(oot) - 12 == len(frame) and counts["outside_window"] == 0
    assert counts["positives"] == int(frame[LABEL].sum())
    with pytest.raises(FileNotFoundError, match="no feature_store Parquet files for months 2006-01..2007-12"):
        preprocessing.load_window(layout, CONFIG.windows.test)
