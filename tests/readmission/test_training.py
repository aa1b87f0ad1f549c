"""Training rows and encoders see only the train window; folds never split a patient; the tiny
search returns a fitted model per algorithm with a threshold from out-of-fold predictions; the fast
search's shortcuts (grown forests, early-stopped boosting, kept fold predictions, threads) change
nothing they should not."""

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
    """(models, figures, the progress lines said with no throttle)."""
    others = {"test": frames["test"], "oot": frames["oot"]}
    lines: list[str] = []
    return *training.train_all(frames["train"], CONFIG, others, n_jobs=2, log=lines.append, every=0), lines


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
    models, figures, _ = trained
    assert list(models) == CONFIG.algorithms
    assert figures["leakage"]["oot_encounters_in_train"] == 0 and figures["train_rows"] == len(frames["train"])
    y_test = frames["test"][LABEL].to_numpy()
    from sklearn.metrics import roc_auc_score

    for algorithm, result in models.items():
        assert result.search["candidates"] == 3 and result.search["strategy"] == "halving"
        assert 0.55 < result.cv_auc < 0.85 and abs(result.oof_auc - result.cv_auc) < 0.08
        found_itself = set() if algorithm == "logistic_regression" else {"n_estimators"}
        assert set(result.params) == set(training.search_space(algorithm, "halving")) | found_itself
        assert 0.0 < result.model.threshold < 0.6 and result.fit_seconds > 0
        assert len(result.oof_probability) == len(frames["train"]) and np.isfinite(result.oof_probability).all()
        probability = result.model.predict_proba(frames["test"])
        assert probability.shape == (len(frames["test"]),) and ((probability > 0) & (probability < 1)).all()
        assert roc_auc_score(y_test, probability) > 0.55, algorithm
    forest = models["random_forest"].model.estimator
    assert forest.n_estimators == training.FOREST_TREES and forest.min_samples_leaf >= 20 and forest.max_depth <= 16
    rungs = models["random_forest"].search["rungs"]
    assert [(r["candidates"], r["trees"]) for r in rungs] == [(3, 50), (1, 150)]
    assert models["random_forest"].search["trees_grown"] == 3 * 2 * 50 + 1 * 2 * 100  # grown, never refitted
    booster = models["xgboost"]
    assert 1 <= booster.params["n_estimators"] < training.BOOSTING_MAX_ROUNDS
    assert booster.model.estimator.num_boosted_rounds() == booster.params["n_estimators"]
    assert booster.search["trees_grown"] < 3 * 2 * training.BOOSTING_MAX_ROUNDS  # early stopping ended every fold


def test_tuning_says_what_how_far_and_the_time_left_of_every_fit_planned(trained):
    """Counted from the threads that fit: each algorithm's last line is all of its planned fits."""
    lines = trained[2]
    for number, algorithm in enumerate(CONFIG.algorithms, 1):
        planned = training.planned_fits(algorithm, "halving", 3, 2)
        said = [line for line in lines if line.startswith(f"tuning {algorithm} ({number} of 3, ")]
        assert said[0].endswith(f": 0 of {planned} fits (0%), 0s so far"), said[0]
        assert f": {planned} of {planned} fits (100%), " in said[-1] and said[-1].endswith("about 0s left"), said[-1]
        assert len(said) == planned + 1  # one line per fit when nothing throttles
    assert [training.planned_fits(a, "halving", 3, 2) for a in CONFIG.algorithms] == [3 * 2 + 1, (3 + 1) * 2 + 1, 3 * 2 + 1]
    assert training.planned_fits("xgboost", "random", 3, 2) == 3 * 2 + 2 + 1


def test_progress_says_at_most_one_line_every_ten_seconds():
    from platform_core.progress import StagedProgress as Progress

    now, lines = [0.0], []
    progress = Progress(lines.append, every=10.0, clock=lambda: now[0])
    progress.stage("tuning xgboost (3 of 3, 1,000 rows)", 120)
    for _ in range(120):  # a fit every 0.25 s: 30 s of work
        now[0] += 0.25
        progress.advance()
    assert lines == ["tuning xgboost (3 of 3, 1,000 rows): 0 of 120 fits (0%), 0s so far",
                     "tuning xgboost (3 of 3, 1,000 rows): 40 of 120 fits (33%), 10s so far, about 20s left",
                     "tuning xgboost (3 of 3, 1,000 rows): 80 of 120 fits (67%), 20s so far, about 10s left",
                     "tuning xgboost (3 of 3, 1,000 rows): 120 of 120 fits (100%), 30s so far, about 0s left"]
    Progress(None).advance()  # no log: quiet


def test_halving_rungs_follow_successive_halving():
    assert training.halving_rungs(20, 150) == [(20, 17), (7, 50), (3, 150)]  # the config's budget
    assert training.halving_rungs(3, 150) == [(3, 50), (1, 150)]
    assert training.halving_rungs(1, 150) == [(1, 150)]
    assert training.halving_rungs(9, 90) == [(9, 10), (3, 30), (1, 90)]


@pytest.fixture(scope="module")
def ordinal(frames):
    train = frames["train"]
    prep = preprocessing.fit_preprocessor(train, CONFIG.windows.train)
    y = train[LABEL].to_numpy().astype(np.int32)
    return prep.transform(train, "ordinal"), y, training.grouped_folds(y, train["patient_nbr"].to_numpy(), 2, seed=7)


def test_a_grown_forest_is_the_forest_of_that_size_so_kept_predictions_are_the_best_candidates_oof(ordinal):
    """The forest search grows forests instead of refitting them and keeps each candidate's fold
    predictions; both are exact: the kept predictions equal cross_val_predict of the best candidate."""
    from sklearn.model_selection import cross_val_predict

    X, y, folds = ordinal
    found = training.search("random_forest", X, y, folds, "halving", 3, seed=7, n_jobs=2)
    best = found.figures["best_params"]
    assert best["n_estimators"] == training.FOREST_TREES
    again = cross_val_predict(training.make_estimator("random_forest", 7, **best), X, y, cv=folds, method="predict_proba")[:, 1]
    np.testing.assert_allclose(found.oof, again, atol=1e-12)
    grown = training.make_estimator("random_forest", 7, warm_start=True, n_estimators=17, min_samples_leaf=50)
    grown.fit(X, y).set_params(n_estimators=50).fit(X, y)
    fresh = training.make_estimator("random_forest", 7, n_estimators=50, min_samples_leaf=50).fit(X, y)
    np.testing.assert_array_equal(grown.predict_proba(X[:500]), fresh.predict_proba(X[:500]))


def test_early_stopped_boosting_keeps_the_oof_of_its_chosen_tree_count(ordinal):
    X, y, folds = ordinal
    found = training.search("xgboost", X, y, folds, "halving", 2, seed=7, n_jobs=2)
    best = found.figures["best_params"]
    again = np.concatenate([training.make_estimator("xgboost", 7, **best).fit(X[t], y[t]).predict_proba(X[v])[:, 1] for t, v in folds])
    order = np.concatenate([v for _, v in folds])
    np.testing.assert_allclose(found.oof[order], again, atol=1e-5)
    from sklearn.metrics import roc_auc_score

    assert found.figures["cv_auc"] == pytest.approx(np.mean([roc_auc_score(y[v], found.oof[v]) for _, v in folds]))


def test_threads_do_not_change_the_search(ordinal, frames):
    train = frames["train"]
    prep = preprocessing.fit_preprocessor(train, CONFIG.windows.train)
    X, y, folds = prep.transform(train, "onehot"), ordinal[1], ordinal[2]
    one, two = (training.search("logistic_regression", X, y, folds, "halving", 4, seed=7, n_jobs=n) for n in (1, 2))
    assert one.figures["best_params"] == two.figures["best_params"] and one.figures["cv_auc"] == two.figures["cv_auc"]
    np.testing.assert_array_equal(one.oof, two.oof)
    assert one.figures["fits"] == 4 * 2 and one.figures["solver_iterations"] > 0


def test_random_strategy_is_the_seeds_search_over_the_same_candidates(frames):
    train = frames["train"]
    prep = preprocessing.fit_preprocessor(train, CONFIG.windows.train)
    X = prep.transform(train, "onehot")
    y = train[LABEL].to_numpy()
    folds = training.grouped_folds(y, train["patient_nbr"].to_numpy(), 2, seed=7)
    seed_like = training.search("logistic_regression", X, y, folds, "random", 3, seed=7, n_jobs=1)
    fast = training.search("logistic_regression", X, y, folds, "halving", 3, seed=7, n_jobs=1)
    assert seed_like.figures["fits"] == fast.figures["fits"] == 6 and seed_like.oof is None  # the seed refits for its OOF
    assert seed_like.figures["best_params"] == fast.figures["best_params"]  # the same draw of C, the same choice
    assert fast.figures["cv_auc"] == pytest.approx(seed_like.figures["cv_auc"], abs=2e-3)
    assert training.draw_candidates("random_forest", "random", 3, 7)[0].keys() >= {"n_estimators"}
    assert "n_estimators" not in training.draw_candidates("random_forest", "halving", 3, 7)[0]
    with pytest.raises(ValueError, match="unknown search strategy"):
        training.search("logistic_regression", X, y, folds, "grid", 3, seed=7, n_jobs=1)


def test_matrices_are_float32_c_contiguous_and_onehot_matches_the_codes(frames):
    prep = preprocessing.fit_preprocessor(frames["train"], CONFIG.windows.train)
    test = frames["test"].with_columns(pl.when(pl.int_range(pl.len()) % 5 == 0).then(None).otherwise(pl.col("race")).alias("race"))
    numeric, codes = prep.codes(test)
    ordinal = prep.transform(test, "ordinal")
    assert ordinal.dtype == np.float32 and ordinal.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(ordinal, np.hstack([numeric, codes.astype(np.float32)]))
    onehot = prep.transform(test, "onehot")
    assert onehot.dtype == np.float32 and onehot.flags["C_CONTIGUOUS"]
    expected = np.zeros_like(onehot)
    expected[:, :len(prep.numeric)] = (numeric - np.float32(prep.means)) / np.float32(prep.scales)
    column = len(prep.numeric)
    for j, name in enumerate(prep.categorical):
        for k in range(len(prep.categories[name])):
            expected[:, column + k] = codes[:, j] == k
        column += len(prep.categories[name])
    np.testing.assert_array_equal(onehot, expected)
    race = codes[:, prep.categorical.index("race")]
    assert (race[::5] == preprocessing.UNKNOWN_CODE).all() and (race[1::5] >= 0).any()


def test_xgboost_scores_the_matrix_inplace_as_the_booster_predicts(trained, frames):
    import xgboost as xgb

    model = trained[0]["xgboost"].model
    X = model.matrix(frames["oot"])
    np.testing.assert_allclose(model.predict_proba(frames["oot"]), model.estimator.predict(xgb.DMatrix(X)), atol=1e-6)


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


def test_search_sample_keeps_whole_patients_within_the_cap_and_is_seeded():
    frame = make_encounters(6_000, seed=5, encounters_per_patient=3.0)
    assert training.search_sample(frame, None, 7) is frame and training.search_sample(frame, 10_000, 7) is frame
    sample = training.search_sample(frame, 2_000, 7)
    assert 1_900 <= len(sample) <= 2_000
    patients = sample["patient_nbr"].unique()
    assert len(frame.filter(pl.col("patient_nbr").is_in(patients.implode()))) == len(sample)  # every encounter of each
    assert training.search_sample(frame, 2_000, 7).equals(sample)
    assert not training.search_sample(frame, 2_000, 8).equals(sample)


def test_a_capped_search_tunes_on_the_sample_and_fits_the_final_model_on_every_row(frames):
    capped = tiny_config(max_rows=1_500)
    train = frames["train"]
    models, figures = training.train_all(train, capped, {"test": frames["test"], "oot": frames["oot"]}, n_jobs=2)
    assert figures["train_rows"] == len(train) and 1_400 <= figures["search_rows"] <= 1_500
    logistic = models["logistic_regression"]
    assert len(logistic.oof_probability) == figures["search_rows"]
    X, y = logistic.model.preprocessor.transform(train, "onehot"), train[LABEL].to_numpy().astype(np.int32)
    refit = training.make_estimator("logistic_regression", capped.search.seed, **logistic.params).fit(X, y)
    np.testing.assert_allclose(logistic.model.estimator.predict_proba(X), refit.predict_proba(X), atol=1e-9)
