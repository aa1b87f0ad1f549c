"""engagement's judged gates (holdout_quality, confidence_calibrated, not_worse_than_champion) on
generated test splits: clean rows pass, a planted problem of the size each gate exists for fails, a
split too small to tell is inconclusive (a warning by default, blocking when configured), and
gates_conclusive names what is missing."""

import numpy as np
import pytest

from platform_assets.engagement.logic import gates
from platform_core.verdicts import judged_lines

SIZES = [4_000, 20_000]  # the test split of 20,000 and of 100,000 labelled customers
SEEDS = [1, 2]


def scores(rows: int, seed: int, noise: float = 0.08, own: float = 0.03, champion_own: float = 0.03):
    """Labels in [0, 1] and two models' scores sharing most of each row's error, each with its own part."""
    rng = np.random.default_rng(seed)
    y = rng.beta(2, 2, rows)
    shared = rng.normal(0, noise, rows)
    return y, y + shared + rng.normal(0, own, rows), y + shared + rng.normal(0, champion_own, rows)


def tiers(rows: int, seed: int, accuracy: float):
    """Scores in their label's tier with probability `accuracy`, else moved half the range (another tier)."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 1, rows)
    hit = rng.random(rows) < accuracy
    return y, np.where(hit, y, (y + 0.5) % 1.0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rows", SIZES)
def test_clean_test_rows_pass_every_judged_gate(rows, seed):
    y, candidate, champion = scores(rows, seed)
    judged = [gates.quality_gate(y, candidate, 0.7, 0.12), gates.champion_gate(y, candidate, champion),
              gates.calibration_gate(*tiers(rows, seed, 0.7), np.full(rows, 0.7))]
    assert [g.metadata["verdict"] for g in judged] == ["pass"] * 3 and all(g.passed for g in judged)
    assert gates.gates_conclusive(judged).passed
    figures = gates.judged_figures(judged)
    assert set(figures) == {"test R²", "test RMSE", "R² lost against the champion", "tier accuracy - mean confidence"}
    assert all(f["rows"] == rows for f in figures.values())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rows", SIZES)
def test_planted_problems_of_the_gates_size_fail(rows, seed):
    y, candidate, champion = scores(rows, seed, noise=0.14, own=0.045)  # RMSE ~0.15 > 0.12, R² ~0.55 < 0.7
    quality = gates.quality_gate(y, candidate, 0.7, 0.12)
    assert not quality.passed and {f["verdict"] for f in quality.metadata["figures"].values()} == {"fail"}
    y, candidate, champion = scores(rows, seed, own=0.045)  # ~0.02 of R² lost: twice the tolerance
    lost = gates.champion_gate(y, candidate, champion)
    assert not lost.passed and lost.metadata["verdict"] == "fail" and not lost.blocking
    assert lost.metadata["figures"]["R² lost against the champion"]["interval"][0] > 0.01
    overconfident = gates.calibration_gate(*tiers(rows, seed, 0.7), np.full(rows, 0.82))  # promises 12 points too many
    assert not overconfident.passed and overconfident.metadata["verdict"] == "fail"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_split_too_small_to_tell_is_inconclusive_and_says_how_many_rows_would_settle_it(seed):
    y, candidate, champion = scores(60, seed, noise=0.115)  # RMSE near its 0.12 limit on 60 rows
    quality = gates.quality_gate(y, candidate, 0.7, 0.12)
    champion_gate = gates.champion_gate(*scores(100, seed)[:2], scores(100, seed)[2])
    calibration = gates.calibration_gate(*tiers(80, seed, 0.7), np.full(80, 0.7))
    judged = [quality, champion_gate, calibration]
    assert [g.metadata["verdict"] for g in judged] == ["inconclusive"] * 3 and all(g.passed for g in judged)
    warning = gates.gates_conclusive(judged)
    assert not warning.passed and not warning.blocking and len(warning.metadata["open"]) >= 3
    assert all(o["rows_needed"] is None or o["rows_needed"] > o["rows"] for o in warning.metadata["open"])
    assert "about" in warning.metadata["reason"] and "tier accuracy - mean confidence" in warning.metadata["reason"]
    blocked = [gates.quality_gate(y, candidate, 0.7, 0.12, inconclusive="block"),
               gates.champion_gate(*scores(100, seed)[:2], scores(100, seed)[2], inconclusive="block"),
               gates.calibration_gate(*tiers(80, seed, 0.7), np.full(80, 0.7), inconclusive="block")]
    assert not any(g.passed for g in blocked)
    lines = judged_lines(gates.judged_figures(judged))
    low, high = calibration.metadata["figures"]["tier accuracy - mean confidence"]["interval"]
    assert any(f"[{low}, {high}] <= 0.05: inconclusive  (n=80)" in line for line in lines)
