"""Metrics at the threshold, the gap to the best achievable AUC, calibration, and the
equal-opportunity gate judged with its interval at two sample sizes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from platform_assets.readmission.logic import evaluation
from platform_assets.readmission.logic.schema import TRUE_PROBABILITY
from tests.readmission.helpers import make_encounters, tiny_config, windows

CONFIG = tiny_config()


def _group(name: str, rows: int, positive_share: float, recall: float, fpr: float):
    positives = int(rows * positive_share)
    y = np.r_[np.ones(positives), np.zeros(rows - positives)].astype(np.int8)
    flagged = np.r_[np.arange(positives) < round(recall * positives), np.arange(rows - positives) < round(fpr * (rows - positives))]
    return np.full(rows, name, dtype=object), y, flagged


def _rates(specs):
    parts = [_group(*spec) for spec in specs]
    groups, y, flagged = (np.concatenate(p) for p in zip(*parts))
    return evaluation.group_rates(y, flagged, {"race": groups})


@pytest.mark.parametrize("rows", [1_000, 10_000])
def test_fairness_gate_passes_a_fair_model_and_fails_an_unfair_one_at_both_sizes(rows):
    fair = _rates([("A", rows, 0.2, 0.60, 0.10), ("B", rows, 0.2, 0.62, 0.11), ("C", 40, 0.25, 0.0, 0.5)])
    unfair = _rates([("A", rows, 0.2, 0.80, 0.10), ("B", rows, 0.2, 0.45, 0.10)])
    passed = evaluation.equal_opportunity_gate(fair, 0.10, min_group_positives=30)
    failed = evaluation.equal_opportunity_gate(unfair, 0.10, min_group_positives=30)
    assert passed.passed and not failed.passed and failed.blocking
    race = failed.metadata["by_attribute"][0]
    assert race["judged_pair"] == ["A", "B"] and race["judged_difference"] == pytest.approx(0.35, abs=0.01)
    assert race["lower_bound"] > 0.10 and race["interval"][0] < 0.35 < race["interval"][1]
    assert "race" in failed.metadata["reason"]
    fair_race = passed.metadata["by_attribute"][0]
    assert fair_race["groups_gated"] == 2 and fair_race["groups_reported_only"] == 1  # C: 10 positives, recall 0, not gated


def test_a_gap_above_the_limit_fails_only_when_the_data_are_sure():
    small = _rates([("A", 300, 0.2, 0.62, 0.1), ("B", 300, 0.2, 0.47, 0.1)])   # 60 positives each: gap 0.15, wide interval
    large = _rates([("A", 30_000, 0.2, 0.62, 0.1), ("B", 30_000, 0.2, 0.47, 0.1)])
    assert evaluation.equal_opportunity_gate(small, 0.10).passed
    assert not evaluation.equal_opportunity_gate(large, 0.10).passed


def test_group_rates_with_standard_errors_and_unknown_group():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 0])
    flagged = np.array([1, 1, 1, 0, 1, 0, 0, 0, 1, 1], dtype=bool)
    rows = evaluation.group_rates(y, flagged, {"gender": pl.Series(["F"] * 8 + [None, None]).to_numpy()})
    female = next(r for r in rows if r["group"] == "F")
    assert (female["recall"], female["fpr"], female["positives"], female["negatives"]) == (0.75, 0.25, 4, 4)
    assert female["recall_se"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4), abs=1e-4)
    assert [r["group"] for r in rows] == ["F", "unknown"]


def test_classification_metrics_at_the_threshold():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6])
    m = evaluation.classification_metrics(y, p, 0.3)
    assert (m["accuracy"], m["precision"], m["recall"]) == (pytest.approx(5 / 6, abs=1e-4), 0.75, 1.0)
    assert m["f1"] == pytest.approx(2 * 0.75 / 1.75, abs=1e-4) and m["auc_roc"] == pytest.approx(8 / 9, abs=1e-4)
    assert m["brier"] == pytest.approx(float(np.mean((p - y) ** 2)), abs=1e-4)


class TrueProbability:
    """A stand-in model that knows the truth: its AUC is the best achievable, gap 0."""

    threshold = 0.2

    def predict_proba(self, frame):
        return frame[TRUE_PROBABILITY].to_numpy()


class Shuffled(TrueProbability):
    def predict_proba(self, frame):
        return np.random.default_rng(0).permutation(frame[TRUE_PROBABILITY].to_numpy())


def test_evaluation_reports_the_gap_to_the_best_achievable_auc(tmp_path):
    encounters = make_encounters(12_000, seed=5)
    frames = {k: v for k, v in windows(encounters, CONFIG).items() if k != "train"}
    truth = encounters.select("encounter_id", TRUE_PROBABILITY)
    result = evaluation.evaluate_models({"xgboost": TrueProbability(), "random_forest": Shuffled()}, frames, CONFIG, truth)
    by = {(r["algorithm"], r["window"]): r for r in result["metrics"]}
    for window, frame in frames.items():
        best = evaluation.best_achievable_auc(frame["readmitted_30d"].to_numpy(), frame[TRUE_PROBABILITY].to_numpy())
        assert result["best_achievable_auc"][window] == round(best, 4) and 0.6 < best < 0.8
        assert by[("xgboost", window)]["auc_gap"] == 0.0
        assert by[("random_forest", window)]["auc_gap"] > 0.1
    assert set(result["gates"]) == {"xgboost", "random_forest"}
    assert {r["attribute"] for r in result["fairness"]} == {"race", "gender", "age"}
    assert evaluation.performance(result, "xgboost")["oot"].keys() == set(evaluation.METRICS)
    curve = result["calibration"]["xgboost"]["test"]
    assert len(curve) == 10 and all(abs(b["mean_predicted"] - b["observed"]) < 0.08 for b in curve)
    evaluation.calibration_png(result["calibration"], tmp_path / "calibration.png")
    assert (tmp_path / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    training = {"algorithms": {"xgboost": {"cv_auc": 0.7, "best_params": {"max_depth": 3}}}}
    comparison = [{"algorithm": "xgboost", "test_auc": 0.76, "minus_best": 0.0, "low": 0.0, "high": 0.0, "not_worse": True}]
    card = evaluation.model_card(result, training, "xgboost/2008-12-0123456789ab", comparison, CONFIG, "2008-12")
    assert "Champion (chosen on test AUC, never OOT; rule simplest_not_worse): `xgboost/2008-12-0123456789ab`" in card
    assert "| xgboost | 0.76 |" in card
    assert "| xgboost | oot |" in card and "Equal-opportunity gate" in card


def test_without_truth_there_is_no_gap_column():
    frames = {"test": windows(make_encounters(3_000, seed=2), CONFIG)["test"]}
    result = evaluation.evaluate_models({"xgboost": TrueProbability()}, frames, CONFIG)
    assert "auc_gap" not in result["metrics"][0] and result["best_achievable_auc"] == {}
