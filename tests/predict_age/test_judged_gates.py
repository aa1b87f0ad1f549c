"""predict_age's judged model gates (holdout_quality, interval_calibration, not_worse_than_champion):
clean held-out rows pass, a planted problem of the size each gate exists for fails, a test split
too small to tell is inconclusive, a warning by default and blocking when configured, and the
summary prints each figure beside its interval."""

import numpy as np
import pytest

from platform_assets.predict_age.config import PredictAgeConfig
from platform_assets.predict_age.logic.gates import model_gates
from platform_assets.predict_age.logic.summary import _judged_lines


def held_out(rows: int, seed: int, coverage: float = 0.8, candidate_scale: float = 1.0, error_sd: float = 5.0,
             ridge_scale: float = 1.3, confidence_signal: float = 1.0):
    """A recorded evaluation and per-row |errors|: the models share most of each row's error (the
    person is hard to place for any), each adds its own; the candidate's scaled by `candidate_scale`,
    Ridge's by `ridge_scale`. The interval covers each row with probability `coverage`; the
    confidence falls with the row's shared difficulty times `confidence_signal` (0: noise)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, error_sd, rows)
    candidate = np.abs(candidate_scale * (shared + rng.normal(0, 1, rows)))
    champion = np.abs(shared + rng.normal(0, 1, rows))
    ridge = np.abs(ridge_scale * (shared + rng.normal(0, 1, rows)))
    confidence = 1 / (1 + np.exp(confidence_signal * np.abs(shared) / error_sd + rng.normal(0, 1, rows)))
    ev = {"fairness": [], "xgboost": {"mae": round(float(candidate.mean()), 4), "within_5": float((candidate <= 5).mean())},
          "ridge": {"mae": 9.0}, "test_rows": rows, "champion": {"version": "xgboost/v1", "mae": round(float(champion.mean()), 4)},
          "interval": {"coverage": round(float((rng.random(rows) < coverage).mean()), 4), "mean_width": 13.0},
          "confidence_deciles": [{"mae": 6 - d / 2} for d in range(10)]}
    return ev, {"candidate": candidate, "champion": champion, "ridge": ridge, "confidence": confidence}


def gates_of(ev, errors, **config):
    gates, _, figures = model_gates(ev, errors, PredictAgeConfig(**config))
    return {g.name: g for g in gates}, figures


JUDGED = ("holdout_quality", "beats_baseline", "interval_calibration", "confidence_ranks_errors", "not_worse_than_champion")


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("rows", [20_000, 60_000])
def test_clean_held_out_rows_pass_every_judged_gate(rows, seed):
    ev, errors = held_out(rows, seed)
    gates, figures = gates_of(ev, errors)
    assert {label: j["verdict"] for label, j in figures.items()} == dict.fromkeys(figures, "pass")
    assert all(gates[name].passed and gates[name].metadata["verdict"] == "pass" for name in JUDGED)
    assert gates["gates_conclusive"].passed and not gates["gates_conclusive"].blocking
    champion = figures["MAE minus the champion's"]
    assert champion["interval"][0] <= champion["value"] <= champion["interval"][1] < champion["limit"]
    assert champion["rows"] == rows and champion["limit"] == round(0.05 * float(errors["champion"].mean()), 4)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("rows", [20_000, 60_000])
def test_planted_problems_of_the_gates_size_fail(rows, seed):
    # an interval covering 75% instead of 80% (2.5x the tolerance); a candidate 15% worse than the champion
    # on the same rows (3x the tolerance); a model whose errors are twice as large (MAE ~8 > 6)
    gates, figures = gates_of(*held_out(rows, seed, coverage=0.75, candidate_scale=1.15))
    assert figures["interval coverage |deviation|"]["verdict"] == "fail" and not gates["interval_calibration"].passed
    assert figures["MAE minus the champion's"]["verdict"] == "fail" and not gates["not_worse_than_champion"].passed
    gates, figures = gates_of(*held_out(rows, seed, error_sd=10.0, candidate_scale=1.0))
    assert figures["holdout MAE"]["verdict"] == "fail" and not gates["holdout_quality"].passed
    assert gates["holdout_quality"].metadata["mae_judged"]["interval"][0] > 6.0

    # a candidate no better than Ridge, a confidence that is noise: fail and cannot tell, never pass
    gates, figures = gates_of(*held_out(rows, seed, ridge_scale=0.9, confidence_signal=0.0))
    assert figures["MAE minus Ridge's"]["verdict"] == "fail" and not gates["beats_baseline"].passed
    assert figures["MAE, most - least confident"]["verdict"] != "pass"


@pytest.mark.parametrize("seed", [1, 2])
def test_a_test_split_too_small_to_tell_is_inconclusive_and_names_the_rows_needed(seed):
    # 160 rows: a coverage of 80% cannot be told from 78% or 82%, nor a tie with the champion from 5% worse
    ev, errors = held_out(160, seed, coverage=0.8)
    gates, figures = gates_of(ev, errors)
    for label in ("interval coverage |deviation|", "MAE minus the champion's"):
        assert figures[label]["verdict"] == "inconclusive" and figures[label]["rows_needed"] > 160
    assert gates["interval_calibration"].passed and gates["not_worse_than_champion"].passed  # warn: the default
    warning = gates["gates_conclusive"]
    assert not warning.passed and not warning.blocking
    assert "interval coverage |deviation|" in warning.metadata["reason"] and "about" in warning.metadata["reason"]
    assert {o["figure"] for o in warning.metadata["open"]} >= {"interval coverage |deviation|", "MAE minus the champion's"}
    blocked, _ = gates_of(ev, errors, calibration_inconclusive="block", champion_inconclusive="block")
    assert not blocked["interval_calibration"].passed and not blocked["not_worse_than_champion"].passed


def test_no_champion_passes_and_the_summary_prints_each_figure_beside_its_interval():
    ev, errors = held_out(160, 1)
    del ev["champion"], errors["champion"]
    gates, figures = gates_of(ev, errors)
    assert gates["not_worse_than_champion"].passed and "MAE minus the champion's" not in figures
    lines = _judged_lines(figures)
    coverage = next(line for line in lines if "interval coverage" in line)
    low, high = figures["interval coverage |deviation|"]["interval"]
    assert f"[{low}, {high}] <= 0.02: inconclusive  (n=160)" in coverage
    assert any("about" in line and "would settle it" in line for line in lines)
