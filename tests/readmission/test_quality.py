"""The champion judged on OOT (logic/quality.py): calibration by decile, the AUC gap to the true
probabilities and the loss against the champion it replaces, each three ways, across sizes and seeds."""

from __future__ import annotations

import numpy as np
import pytest

from platform_assets.readmission.logic import quality


def _world(rng, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """True readmission probabilities like the job's (mostly 0.02-0.4) and outcomes drawn from them."""
    p = 1 / (1 + np.exp(-(-2.2 + 0.9 * rng.standard_normal(rows))))
    return (rng.random(rows) < p).astype(np.int8), p


def _overconfident(p: np.ndarray, factor: float = 1.35) -> np.ndarray:
    """Probabilities pushed away from the base rate on the logit scale, as a drifted champion's are."""
    logit = np.log(p / (1 - p))
    return 1 / (1 + np.exp(-(logit.mean() + factor * (logit - logit.mean()))))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rows", [20_000, 200_000])
def test_a_calibrated_model_passes_and_an_overconfident_one_fails(seed, rows):
    rng = np.random.default_rng(seed)
    y, p = _world(rng, rows)
    calibrated = quality.calibration(y, p, 0.05, 0.95, "warn", true_probability=p)
    assert calibrated["verdict"] == "pass" and calibrated["interval"][1] <= 0.05
    assert all(d["verdict"] == "pass" for d in calibrated["deciles"]) and len(calibrated["deciles"]) == 10
    assert all(abs(d["true_rate"] - d["mean_predicted"]) < 1e-9 for d in calibrated["deciles"])

    off = quality.calibration(y, _overconfident(p), 0.05, 0.95, "warn", true_probability=p)
    assert off["verdict"] == "fail" and off["interval"][0] > 0.05
    assert off["decile"] == 10 and off["target"] > off["share"]  # overconfident at the top: predicted above observed


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_too_few_rows_to_tell_say_so_with_the_rows_that_would_settle_it(seed):
    rng = np.random.default_rng(seed)
    y, p = _world(rng, 2_000)
    off = quality.calibration(y, _overconfident(p, 1.2), 0.05, 0.95, "warn")
    assert off["verdict"] == "inconclusive"
    low, high = off["interval"]
    assert low <= 0.05 < high and off["rows"] == 200 and off["rows_needed"] > 200


@pytest.mark.parametrize("seed", [1, 2])
def test_auc_gap_and_loss_against_the_previous_champion(seed):
    rng = np.random.default_rng(seed)
    y, p = _world(rng, 100_000)
    noisy = p * np.exp(0.8 * rng.standard_normal(len(p)))  # ranks blurred: a clearly worse model
    gap = quality.auc_gap(y, p, p, 0.03, 0.95, "warn")
    assert gap["verdict"] == "pass" and gap["value"] == 0.0
    far = quality.auc_gap(y, noisy, p, 0.03, 0.95, "warn")
    assert far["verdict"] == "fail" and far["interval"][0] > 0.03

    assert quality.auc_loss(y, p, p, 0.01, 0.95, "warn")["verdict"] == "pass"  # the same model again is not worse
    worse = quality.auc_loss(y, noisy, p, 0.01, 0.95, "warn")
    assert worse["verdict"] == "fail" and worse["value"] > 0.03
    slightly = p * np.exp(0.15 * rng.standard_normal(len(p)))  # a loss of about the tolerance: 1,000 rows cannot tell
    small = np.arange(1_000)
    near = quality.auc_loss(y[small], slightly[small], p[small], 0.01, 0.95, "warn")
    assert near["verdict"] == "inconclusive" and (near["rows_needed"] is None or near["rows_needed"] > 1_000), near


def test_gates_warn_name_open_figures_and_pass_what_cannot_be_judged():
    rng = np.random.default_rng(4)
    y, p = _world(rng, 2_000)
    figures = {"calibration": quality.calibration(y, _overconfident(p, 1.2), 0.05, 0.95, "warn")}
    gates = {g.name: g for g in quality.quality_gates(figures, "warn", None)}
    assert not any(g.blocking for g in gates.values())
    assert gates["champion_calibrated"].passed and "inconclusive" in gates["champion_calibrated"].metadata["shown"]
    assert gates["champion_near_best_auc"].passed and gates["champion_near_best_auc"].metadata["verdict"].startswith("no true")
    assert gates["not_worse_than_champion"].metadata["verdict"] == "no champion replaced"
    assert not gates["gates_conclusive"].passed and "calibration (worst OOT decile)" in gates["gates_conclusive"].metadata["reason"]
    blocked = {g.name: g for g in quality.quality_gates(figures, "block", None)}
    assert not blocked["champion_calibrated"].passed


def test_champion_quality_compares_with_the_champion_it_replaced_on_the_same_rows():
    import polars as pl

    from platform_assets.readmission.logic.model_config import load_model_config
    from platform_assets.readmission.logic.model_run import champion_quality
    from platform_assets.readmission.logic.schema import LABEL, TRUE_PROBABILITY
    from platform_core.registry import ModelRef

    rng = np.random.default_rng(5)
    y, p = _world(rng, 50_000)
    oot = pl.DataFrame({"encounter_id": np.arange(len(y)), LABEL: y})
    truth = pl.DataFrame({"encounter_id": np.arange(len(y)), TRUE_PROBABILITY: p})
    new, old = ModelRef("readmission", "xgboost", "2008-12-new"), ModelRef("readmission", "logistic_regression", "2008-12-old")
    scored = {new: p * np.exp(0.8 * rng.standard_normal(len(p))), old: p}  # the new champion is clearly worse
    config = load_model_config(quality.__file__.replace("logic/quality.py", "model_config.yaml"))

    figures = champion_quality(oot, new, old, config, truth, scored.__getitem__)
    assert set(figures) == {"calibration", "auc_gap", "auc_loss_against_previous"}
    assert figures["auc_loss_against_previous"]["verdict"] == "fail" and figures["auc_loss_against_previous"]["previous"] == str(old)
    assert figures["auc_gap"]["verdict"] == "fail"
    gates = {g.name: g for g in quality.quality_gates(figures, "warn", None)}
    assert not gates["not_worse_than_champion"].passed and not gates["champion_near_best_auc"].passed
    # the champion kept (nothing replaced) and no truth: only calibration is judged
    assert set(champion_quality(oot, old, old, config, None, scored.__getitem__)) == {"calibration"}
