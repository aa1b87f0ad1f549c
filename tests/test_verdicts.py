"""The shared three-way verdict, the joint (Bonferroni) critical value and the rows that would
resolve an open verdict: platform_core/verdicts.py."""

import math

import numpy as np
import pytest

from platform_core.metrics import mean_interval
from platform_core.verdicts import (
    DEFAULT_INCONCLUSIVE, conclusive_gate, critical_value, judged, passes, per_comparison_level, proportion_within,
    rows_to_resolve, rows_to_settle, verdict, verdict_at_least, worst)


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


def test_a_floor_is_judged_three_ways_and_an_open_figure_names_the_rows_that_would_settle_it():
    assert [verdict_at_least(0.71, 0.8, 0.7), verdict_at_least(0.5, 0.69, 0.7), verdict_at_least(0.65, 0.75, 0.7)] == [
        "pass", "fail", "inconclusive"]
    open_ = judged(0.72, 0.66, 0.78, 0.7, 100, "warn", at_least=True)
    assert open_["verdict"] == "inconclusive" and open_["rows_needed"] == 900  # half-width 0.06 -> 0.02: 9x the rows
    assert rows_to_settle(100, 0.06, 0.0) is None and "rows_needed" not in judged(0.8, 0.75, 0.85, 0.7, 100, "warn", True)
    assert judged(0.02 + 1e-12, 0.0, 0.09, 0.02, 150, "warn")["rows_needed"] is None  # on the limit: no sample settles it
    warning = conclusive_gate("gates_conclusive", {"R²": open_, "RMSE": judged(0.1, 0.09, 0.11, 0.12, 100, "warn")})
    assert not warning.passed and not warning.blocking and [o["figure"] for o in warning.metadata["open"]] == ["R²"]
    assert "R² 0.72 [0.66, 0.78] straddles the limit 0.7 on 100 rows; about 900 would settle it" in warning.metadata["reason"]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("rows", [2_000, 20_000])
def test_a_share_within_a_tolerance_and_the_paired_mean_hold_their_95_percent(rows, seed):
    """Over 400 samples: an 80% share judged against 80% +- 0.02 is failed at most 5% of the time, and
    a mean's interval covers the true mean about 95% of the time."""
    rng = np.random.default_rng(seed)
    shares = [proportion_within(int(rng.binomial(rows, 0.8)), rows, 0.8, 0.02, "warn")["verdict"] for _ in range(400)]
    assert shares.count("fail") <= 20 and (rows < 20_000 or shares.count("pass") >= 380)
    covered = sum(low <= 0.05 <= high for _, low, high in (mean_interval(rng.normal(0.05, 0.5, rows)) for _ in range(400)))
    assert 360 <= covered <= 395
    shared = rng.normal(0, 5, rows)  # two models wrong alike on each row: the paired interval is far narrower
    first, second = np.abs(shared + rng.normal(0, 1, rows)), np.abs(shared + rng.normal(0, 1, rows))
    _, low, high = mean_interval(first - second)
    unpaired = 1.96 * math.sqrt(first.var(ddof=1) / rows + second.var(ddof=1) / rows)
    assert (high - low) / 2 < unpaired / 3
