"""Metrics at the threshold, the gap to the best achievable AUC, calibration, and the
equal-opportunity gate's three-way verdict across group sizes and seeds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from platform_assets.readmission.logic import evaluation
from platform_assets.readmission.logic.schema import TRUE_PROBABILITY
from tests.readmission.helpers import make_encounters, tiny_config, windows

CONFIG = tiny_config()


def _drawn(rng, groups: dict[str, tuple[int, float]], attribute: str = "race") -> list[dict]:
    """Group rates of a model whose recall in each group is drawn around a true recall: {group: (positives, recall)};
    as many negatives as positives, flagged at a 10% false-positive rate."""
    parts = []
    for name, (positives, recall) in groups.items():
        y = np.r_[np.ones(positives), np.zeros(positives)].astype(np.int8)
        flagged = np.r_[rng.random(positives) < recall, rng.random(positives) < 0.10]
        parts.append((np.full(2 * positives, name, dtype=object), y, flagged))
    labels, y, flagged = (np.concatenate(p) for p in zip(*parts))
    return evaluation.group_rates(y, flagged, {attribute: labels})


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("positives", [4_000, 20_000])
def test_large_groups_are_judged_conclusively_both_ways(seed, positives):
    """A planted gap of twice the limit fails; no gap passes; at every size and seed."""
    rng = np.random.default_rng(seed)
    planted = evaluation.equal_opportunity_gate(_drawn(rng, {"A": (positives, 0.60), "B": (positives, 0.40)}), 0.10)
    none = evaluation.equal_opportunity_gate(_drawn(rng, {"A": (positives, 0.50), "B": (positives, 0.50)}), 0.10)
    assert planted.metadata["verdict"] == "fail" and not planted.passed and planted.blocking
    low, high = planted.metadata["interval"]
    assert 0.10 < low < planted.metadata["gap"] < high and planted.metadata["gap"] == pytest.approx(0.20, abs=0.03)
    assert "race (A vs B" in planted.metadata["reason"]
    assert none.metadata["verdict"] == "pass" and none.passed and not none.metadata["open_groups"]
    assert -0.10 <= none.metadata["interval"][0] and none.metadata["interval"][1] <= 0.10


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("recalls", [(0.60, 0.40), (0.50, 0.50)], ids=["planted_gap", "no_gap"])
def test_small_groups_say_inconclusive_naming_the_group_and_the_positives_that_would_resolve_it(seed, recalls):
    rng = np.random.default_rng(seed)
    # 60 positives each: gated, but the interval is about +-0.18 wide, so neither a gap of 0.2 nor none can be told apart
    both_small = evaluation.equal_opportunity_gate(_drawn(rng, {"A": (60, recalls[0]), "B": (60, recalls[1])}), 0.10)
    assert both_small.metadata["verdict"] == "inconclusive" and both_small.passed  # the default: warn, do not block
    low, high = both_small.metadata["interval"]
    assert low <= 0.10 < high
    (open_group,) = both_small.metadata["open_groups"]
    # the positives that would shrink the interval (as 1/sqrt(n)) until it clears the limit from the gap seen
    gap = both_small.metadata["gap"]
    facing = high - gap if gap <= 0.10 else gap - low
    assert open_group["positives"] == 60 and open_group["positives_needed"] > 60
    assert open_group["positives_needed"] == pytest.approx(60 * (facing / abs(0.10 - gap)) ** 2, rel=0.02)
    assert f"-> ~{open_group['positives_needed']:,} (against" in both_small.metadata["reason"]
    assert "would settle it" in both_small.metadata["reason"] and "enough" not in both_small.metadata["reason"]

    # a group under min_group_positives beside a large one: inconclusive, ~96 positives needed at recall 0.5
    rates = _drawn(rng, {"A": (20_000, recalls[0]), "Asian": (12, recalls[1])})
    warned = evaluation.equal_opportunity_gate(rates, 0.10, min_group_positives=30)
    blocked = evaluation.equal_opportunity_gate(rates, 0.10, min_group_positives=30, inconclusive="block")
    assert warned.metadata["verdict"] == blocked.metadata["verdict"] == "inconclusive"
    assert warned.passed and not blocked.passed
    (asian,) = warned.metadata["open_groups"]
    assert (asian["group"], asian["positives"], asian["against"]) == ("Asian", 12, "A")
    assert 60 <= asian["positives_needed"] <= 110
    assert f"race: Asian 12 -> ~{asian['positives_needed']} (against A)" in warned.metadata["reason"]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("positives", [400, 4_000])
def test_many_groups_compared_at_once_hold_jointly(seed, positives):
    """Eight groups (28 pairs): every interval is drawn at 95% shared among the pairs, so pairs whose
    true gap is exactly the limit fail no more than 1 run in 20 (judged one by one: about 1 in 4),
    while a planted gap of twice the limit is caught and named."""
    rng = np.random.default_rng(seed)
    at_limit = {f"g{i}": (positives, 0.45 if i % 2 else 0.55) for i in range(8)}  # 16 pairs 0.10 apart
    runs = [evaluation.equal_opportunity_gate(_drawn(rng, at_limit), 0.10) for _ in range(40)]
    assert {g.metadata["comparisons"] for g in runs} == {28}
    assert sum(g.metadata["verdict"] == "fail" for g in runs) <= 2
    planted_gap = {**{f"g{i}": (4_000, 0.5) for i in range(7)}, "g7": (4_000, 0.3)}
    planted = evaluation.equal_opportunity_gate(_drawn(rng, planted_gap), 0.10)
    assert planted.metadata["verdict"] == "fail" and "g7" in planted.metadata["between"]
    assert planted.metadata["interval"][0] > 0.10


def test_the_worst_attribute_decides_and_a_confident_failure_beats_an_open_question():
    rng = np.random.default_rng(4)
    rates = (_drawn(rng, {"A": (10_000, 0.70), "B": (10_000, 0.40)}, "gender")
             + _drawn(rng, {"young": (15, 0.5), "old": (10_000, 0.5)}, "age"))
    gate = evaluation.equal_opportunity_gate(rates, 0.10, inconclusive="warn")
    assert gate.metadata["verdict"] == "fail" and not gate.passed and gate.metadata["attribute"] == "gender"
    assert [a["verdict"] for a in gate.metadata["by_attribute"]] == ["fail", "inconclusive"]


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
    comparison = [{"algorithm": "xgboost", "test_auc": 0.76, "minus_best": 0.0, "low": 0.0, "high": 0.0, "verdict": "pass", "qualifies": True}]
    card = evaluation.model_card(result, training, "xgboost/2008-12-0123456789ab", comparison, CONFIG, "2008-12")
    assert "Champion (chosen on test AUC, never OOT; rule simplest_not_worse): `xgboost/2008-12-0123456789ab`" in card
    assert "| xgboost | 0.76 |" in card
    assert "| xgboost | oot |" in card and "Equal-opportunity gate" in card


def test_without_truth_there_is_no_gap_column():
    frames = {"test": windows(make_encounters(3_000, seed=2), CONFIG)["test"]}
    result = evaluation.evaluate_models({"xgboost": TrueProbability()}, frames, CONFIG)
    assert "auc_gap" not in result["metrics"][0] and result["best_achievable_auc"] == {}
