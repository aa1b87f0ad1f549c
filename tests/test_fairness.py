"""Fairness gates judged with their uncertainty: the verdict follows the truth, not the size."""

import numpy as np
import pytest

from platform_core.fairness import FairnessThresholds, evaluate_gate, group_errors

LIMITS = FairnessThresholds(max_mae_ratio=1.25, max_abs_bias=1.0)


def gate(n: int, seed: int, bias_b: float, scale_b: float = 1.0) -> dict:
    """Two groups of n rows each; group b's errors shifted by bias_b and scaled by scale_b."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(20, 80, 2 * n)
    err = rng.normal(0, 4, 2 * n)
    err[n:] = err[n:] * scale_b + bias_b
    groups = np.array(["a"] * n + ["b"] * n)
    return evaluate_gate(group_errors("g", groups, y, y + err), LIMITS)


@pytest.mark.parametrize("n", [40, 400, 4_000, 40_000])
@pytest.mark.parametrize("seed", [7, 12345])
def test_a_fair_model_passes_at_every_size(n, seed):
    assert gate(n, seed, bias_b=0.0)["passed"]
    assert gate(n, seed, bias_b=0.9)["passed"]  # a true bias within the limit passes however large the sample


@pytest.mark.parametrize("n", [4_000, 40_000])
@pytest.mark.parametrize("seed", [7, 12345])
def test_a_clearly_unfair_model_fails_once_the_data_can_tell(n, seed):
    biased = gate(n, seed, bias_b=2.0)
    assert not biased["passed"] and biased["abs_bias_lower"] > 1.0
    spread = gate(n, seed, bias_b=0.0, scale_b=1.6)  # group b's errors 60% larger
    assert not spread["passed"] and spread["mae_ratio_lower"] > 1.25


def test_a_small_group_over_the_limit_by_noise_alone_is_not_failed():
    result = gate(40, 3, bias_b=1.4)  # point |bias| above 1, but 40 rows cannot show it
    assert result["max_abs_bias"] > 1.0 and result["abs_bias_lower"] <= 1.0 and result["passed"]
