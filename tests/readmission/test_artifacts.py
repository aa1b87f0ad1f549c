"""Registry artifacts without pickle, the seed's metadata, champions on test AUC, scoring,
monitoring and the model comparison."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from platform_assets.readmission.logic import artifacts, comparison, evaluation, monitoring, scoring, training
from platform_assets.readmission.logic.schema import CATEGORICAL_FEATURES, KEYS, LABEL, NUMERIC_FEATURES, TRUE_PROBABILITY
from platform_core.gates import GateResult
from platform_core.registry import ModelIntegrityError, ModelRegistry
from platform_core.storage import DataLayout, atomic_dir, current
from tests.readmission.helpers import make_encounters, tiny_config, windows

CONFIG = tiny_config()
JOB = "readmission"
MONTH = "2008-03"


@pytest.fixture(scope="module")
def world():
    encounters = make_encounters(4_000, seed=13)
    frames = windows(encounters, CONFIG)
    models, _ = training.train_all(frames["train"], CONFIG, {"test": frames["test"], "oot": frames["oot"]}, n_jobs=1)
    result = evaluation.evaluate_models({a: t.model for a, t in models.items()}, {"test": frames["test"], "oot": frames["oot"]},
                                        CONFIG, encounters.select("encounter_id", TRUE_PROBABILITY))
    return encounters, frames, models, result


@pytest.fixture
def registered(world, tmp_path):
    _, frames, models, result = world
    layout = DataLayout.at(tmp_path)
    registry = ModelRegistry(layout.models)
    references = {a: monitoring.training_reference(t.model, frames["train"]) for a, t in models.items()}
    refs = artifacts.register_models(registry, JOB, "2008-12", models, result, CONFIG, {k: len(v) for k, v in frames.items()},
                                     "2026-11-29", references)
    return layout, registry, refs


def test_every_model_round_trips_exactly_without_pickle(world, registered):
    _, frames, models, _ = world
    _, registry, refs = registered
    for algorithm, ref in refs.items():
        names = set(registry.metadata(ref)["files"])
        assert names == set(artifacts.model_file_names(algorithm))
        assert not any(n.endswith((".pkl", ".joblib", ".pickle")) for n in names)
        loaded = artifacts.load_registered(registry, ref)
        np.testing.assert_array_equal(loaded.predict_proba(frames["oot"]), models[algorithm].model.predict_proba(frames["oot"]))
        assert loaded.threshold == models[algorithm].model.threshold
    preprocessing = json.loads(registry.load_file(refs["xgboost"], "preprocessing.json"))
    assert preprocessing["feature_names"][:2] == NUMERIC_FEATURES[:2] and len(preprocessing["preprocessor"]["categories"]) == 16


def test_a_tampered_file_is_refused(registered):
    _, registry, refs = registered
    ref = refs["xgboost"]
    path = registry.root / JOB / "xgboost" / ref.version / "model.ubj"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match the registered"):
        artifacts.load_registered(registry, ref)


def test_an_untrusted_skops_type_is_refused(world):
    import os

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    files = artifacts.model_files(world[2]["random_forest"].model, {})
    files["model.skops"] = skops.io.dumps(FunctionTransformer(os.system))  # loading it would hand os.system to the caller
    with pytest.raises(artifacts.UntrustedModelError, match=r"outside the allowlist: \['posix.system'\]"):
        artifacts.load_model(files)
    files["model.skops"] = skops.io.dumps(world[2]["logistic_regression"].model.estimator)
    with pytest.raises(artifacts.UntrustedModelError, match="not the sklearn.ensemble._forest.RandomForestClassifier"):
        artifacts.load_model(files)


def test_metadata_has_exactly_the_seed_fields_plus_hashes(world, registered):
    _, frames, _, result = world
    _, registry, refs = registered
    meta = registry.metadata(refs["random_forest"])
    seed = {k: meta[k] for k in artifacts.SEED_FIELDS}
    assert set(meta) - set(artifacts.SEED_FIELDS) == {"files", "job", "model", "version", "created_at"}
    assert all(len(h) == 64 for h in meta["files"].values())
    assert seed["model_name"] == "random_forest" and seed["training_date"] == "2026-11-29"
    assert seed["temporal_splits"]["oot"] == {"start": "2008-01-01", "end": "2008-12-31"}
    assert (seed["training_samples"], seed["test_samples"], seed["oot_samples"]) == tuple(len(frames[w]) for w in ("train", "test", "oot"))
    assert seed["feature_count"] == 27
    for window in ("test", "oot"):
        assert set(seed["performance"][window]) == {"accuracy", "precision", "recall", "f1", "auc_roc"}
    assert seed["performance"] == evaluation.performance(result, "random_forest")
    assert seed["config"]["search"]["grouped_by"] == "patient_nbr" and seed["config"]["params"]["n_estimators"] <= 150


def _meta(test_auc, oot_auc):
    return {"performance": {"test": {"auc_roc": test_auc}, "oot": {"auc_roc": oot_auc}}}


def test_champion_is_chosen_on_test_auc_never_oot():
    candidates = {"xgboost/a": _meta(0.78, 0.70), "random_forest/b": _meta(0.77, 0.76), "logistic_regression/c": _meta(0.74, 0.79)}
    assert artifacts.choose_champion(candidates) == "xgboost/a"
    flipped_oot = {k: _meta(v["performance"]["test"]["auc_roc"], 1 - v["performance"]["oot"]["auc_roc"]) for k, v in candidates.items()}
    assert artifacts.choose_champion(flipped_oot) == "xgboost/a"


def _scores(rng, y, signal):
    return signal * y + rng.standard_normal(len(y))


@pytest.mark.parametrize("rows", [2_000, 20_000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overall_champion_is_the_simplest_not_significantly_worse_on_test(rows, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.15).astype(int)
    simplest_not_worse = CONFIG.champion
    highest = CONFIG.champion.model_copy(update={"rule": "highest"})
    # two models equally good in truth (shared and own noise): the test window cannot separate them
    shared = rng.standard_normal(rows)
    alike = {name: y + 0.8 * shared + 0.6 * rng.standard_normal(rows) for name in ("logistic_regression", "xgboost")}
    choice, comparison = artifacts.choose_overall(y, alike, simplest_not_worse)
    assert choice == "logistic_regression" and all(row["qualifies"] for row in comparison)
    # margin 0: the one that is not the best cannot be told apart from it, which qualifies by default (warn) ...
    assert sorted(row["verdict"] for row in comparison) == ["inconclusive", "pass"]
    # ... and not when inconclusive blocks: then only the best, confidently not worse than itself, qualifies
    strict = CONFIG.champion.model_copy(update={"inconclusive": "block"})
    best = max(comparison, key=lambda row: row["test_auc"])["algorithm"]
    assert artifacts.choose_overall(y, alike, strict)[0] == best
    assert artifacts.choose_overall(y, alike, highest)[0] == best
    # a margin wider than the test window's uncertainty: confidently not worse by more than it
    lenient = CONFIG.champion.model_copy(update={"margin": 0.2})
    assert [row["verdict"] for row in artifacts.choose_overall(y, alike, lenient)[1]] == ["pass", "pass"]
    # a complex model clearly better: chosen at every size, the others confidently worse
    clearly = {"logistic_regression": _scores(rng, y, 0.6), "random_forest": _scores(rng, y, 0.8), "xgboost": _scores(rng, y, 1.0)}
    choice, comparison = artifacts.choose_overall(y, clearly, simplest_not_worse)
    assert choice == "xgboost"
    assert [(row["verdict"], row["qualifies"]) for row in comparison] == [("fail", False), ("fail", False), ("pass", True)]
    assert all(row["low"] <= row["minus_best"] <= row["high"] <= 0 for row in comparison)


def test_promotion_per_algorithm_and_overall(world, registered):
    _, frames, models, result = world
    _, registry, refs = registered
    gates = {a: GateResult("equal_opportunity", a != "logistic_regression") for a in refs}
    asked = []

    def test_probability(ref):
        asked.append(ref)
        return models[ref.model].model.predict_proba(frames["test"])

    outcome = artifacts.promote_champions(registry, JOB, refs, gates, test_probability, frames["test"][LABEL].to_numpy(),
                                          CONFIG.model_copy(update={"champion": CONFIG.champion.model_copy(update={"rule": "highest"})}))
    assert outcome["per_algorithm"]["logistic_regression"] is None  # failed its gate, no earlier champion
    assert sorted(r.model for r in asked) == ["random_forest", "xgboost"]  # only gated champions compete, on test rows
    test_auc = {a: r["auc_roc"] for r in result["metrics"] for a in [r["algorithm"]] if r["window"] == "test"}
    expected = max(["random_forest", "xgboost"], key=lambda a: test_auc[a])
    assert outcome["overall"] == refs[expected] and registry.champion(JOB) == {expected: refs[expected]}
    assert [row["algorithm"] for row in outcome["overall_comparison"]] == ["random_forest", "xgboost"]
    assert registry.champion(JOB, "random_forest") == {"random_forest": refs["random_forest"]}


def _features_month(frames, layout):
    month = frames["oot"].filter(pl.col("encounter_date").dt.strftime("%Y-%m") == MONTH)
    with atomic_dir(layout.table(JOB, "feature_store", MONTH)) as tmp:
        month.select(*KEYS, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES).write_parquet(tmp / "part.parquet")
    return month


def test_scoring_writes_columns_and_bands_and_monitoring_reads_them(world, registered):
    _, frames, _, _ = world
    layout, registry, refs = registered
    registry.promote(JOB, {"xgboost": refs["xgboost"]}, "test")
    month = _features_month(frames, layout)
    figures = scoring.score_month(layout, registry, MONTH, CONFIG, "2026-11-29T00:00:00+00:00")
    scores = pl.read_parquet(current(layout.table(JOB, "scores", MONTH)) / "scores.parquet")
    assert scores.schema == pl.Schema(scoring.SCORE_SCHEMA) and len(scores) == len(month) == figures["rows"]
    assert (scores["model_version"] == str(refs["xgboost"])).all() and figures["model_version"] == str(refs["xgboost"])
    assert sum(b["rows"] for b in figures["bands"]) == len(scores)
    uppers = {b.name: b.upper for b in CONFIG.risk_bands}
    lowers = dict(zip([b.name for b in CONFIG.risk_bands], [0.0] + [b.upper for b in CONFIG.risk_bands[:-1]]))
    for band, p in scores.select("risk_band", "readmission_probability").iter_rows():
        assert lowers[band] <= p < uppers[band]

    model = artifacts.load_registered(registry, refs["xgboost"])
    reference = artifacts.drift_reference_of(registry, refs["xgboost"])
    before = monitoring.monitor_month(reference, model, month, scores)
    assert before["performance"] is None and {r["name"] for r in before["drift"]} == {*NUMERIC_FEATURES, *CATEGORICAL_FEATURES,
                                                                                       "readmission_probability"}
    after = monitoring.monitor_month(reference, model, month, scores, month.select("encounter_id", LABEL))
    assert after["performance"]["rows_labelled"] == len(month) and 0 < after["performance"]["brier"] < 0.3
    shifted = month.with_columns(pl.lit("NewPayer").alias("payer_code"), pl.col("number_inpatient") + 5)
    drifted = monitoring.monitor_month(reference, model, shifted, scores)
    assert {"payer_code", "number_inpatient"} <= set(drifted["features_drifting"])
    assert monitoring.write_monitoring(layout, MONTH, after).endswith(MONTH)
    assert (current(layout.table(JOB, "monitoring", MONTH)) / "performance.json").exists()


def test_risk_bands_edges():
    bands = scoring.risk_bands(np.array([0.0, 0.0799, 0.08, 0.15, 0.2999, 0.3, 1.0]), CONFIG.risk_bands)
    assert bands.to_list() == ["low", "low", "medium", "high", "high", "very_high", "very_high"]


def test_comparison_puts_every_version_side_by_side(registered):
    layout, registry, refs = registered
    registry.promote(JOB, {"random_forest": refs["random_forest"]}, "test")
    figures = comparison.write_comparison(layout, registry, "2008-12")
    table = pl.read_parquet(current(layout.table(JOB, "model_comparison", "2008-12")) / "comparison.parquet")
    assert figures["versions"] == len(table) == 3
    assert {"test_auc_roc", "oot_auc_roc", "test_f1", "oot_f1"} <= set(table.columns)
    assert table["test_auc_roc"].to_list() == sorted(table["test_auc_roc"].to_list(), reverse=True)
    assert table.filter(pl.col("overall_champion"))["model"].to_list() == ["random_forest"]
