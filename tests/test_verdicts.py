"""The shared three-way verdict, the joint (Bonferroni) critical value and the rows that would
resolve an open verdict: platform_core/verdicts.py."""

import math

import numpy as np
import pytest

from platform_core.verdicts import (
    DEFAULT_INCONCLUSIVE, critical_value, passes, per_comparison_level, rows_to_resolve, verdict, worst)


def test_an_interval_is_judged_three_ways_and_inconclusive_warns_by_default():
    assert [verdict(0.02, 0.09, 0.1), verdict(0.11, 0.3, 0.1), verdict(0.05, 0.15, 0.1)] == ["pass", "fail", "inconclusive"]
    assert verdict(0.0, 0.1, 0.1) == "pass" and verdict(0.1, 0.2, 0.1) == "inconclusive"  # on the limit: not beyond it
    assert DEFAULT_INCONCLUSIVE == "warn" and passes("inconclusive", DEFAULT_INCONCLUSIVE)
    assert not passes("inconclusive", "block") and not passes("fail", "warn") and passes("pass", "block")
    assert worst(["pass", "inconclusive", "fail"]) == "fail" and worst(["pass", "inconclusive"]) == "inconclusive"
    assert worst([]) == "pass"


def test_joint_intervals_widen_with_the_number_of_comparisons():
    assert critical_value(0.95) == pytest.approx(1.959964, abs=1e-5)
    assert per_comparison_level(0.95, 10) == pytest.approx(0.995)
    assert critical_value(0.95, 10) == pytest.approx(2.807034, abs=1e-5)
    assert critical_value(0.95, 750) == pytest.approx(4.0, abs=0.05)
    assert critical_value(0.95, 0) == critical_value(0.95, 1)


@pytest.mark.parametrize("variance, limit, z, other_variance, other_rows",
                         [(16.0, 1.0, 1.96, 0.0, math.inf), (0.25, 0.1, 2.8, 0.25, 4_000), (0.21, 0.1, 1.96, 0.24, 300),
                          (0.25, 0.1, 2.8, 0.25, 100), (0.25, 0.1, 2.8, 0.25, 200)])
def test_the_rows_to_resolve_bring_the_interval_to_the_limit(variance, limit, z, other_variance, other_rows):
    n = rows_to_resolve(variance, limit, z, other_variance, other_rows)

    def half(rows, other):
        return z * math.sqrt(variance / rows + other_variance / other)

    if n <= other_rows:  # the other group has enough: this one alone catches up
        assert half(n, other_rows) <= limit < half(n - 1, other_rows)
    else:  # it leaves no room, or too little to fill without more rows than it has: both need n
        assert half(n, n) <= limit < half(n - 1, n - 1)
        assert half(1e12, other_rows) >= limit or half(other_rows, other_rows) > limit


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("entities", [200, 750])
def test_many_entities_compared_at_once_flag_only_real_degradation(seed, entities):
    """Each entity: is its new model worse than the old by more than a margin? Every one of them
    sits exactly at the margin (nothing degraded) except five planted three standard errors of
    the joint interval beyond it. One by one at 95%, about 2.5% of the clean ones are flagged; held
    jointly, the planted five are caught and almost nothing else."""
    rng = np.random.default_rng(seed)
    se, margin = 0.1, 0.2
    truth = np.full(entities, margin)
    z_joint = critical_value(0.95, entities)
    truth[:5] = margin + 3 * z_joint * se
    estimate = rng.normal(truth, se)
    one_by_one = estimate - critical_value(0.95) * se > margin
    joint = estimate - z_joint * se > margin
    assert joint[:5].all() and joint[5:].sum() <= 1
    assert one_by_one[5:].sum() >= 0.01 * entities
