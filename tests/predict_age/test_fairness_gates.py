"""predict_age's fairness gates on small synthetic held-out errors: one verdict per attribute with
intervals held jointly over the three, inconclusive warning (or blocking when configured), planted
bias caught, and the summary printing each figure beside its interval."""

import numpy as np
import pytest

from platform_assets.predict_age.config import PredictAgeConfig
from platform_assets.predict_age.logic.gates import fairness_table, model_gates
from platform_assets.predict_age.logic.summary import _fairness_lines
from platform_core.fairness import group_errors

REGIONS = ["northeast", "midwest", "south", "west"]
BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]


def evaluation(rows: int, seed: int, west_bias: float = 0.0) -> dict:
    """What train_age_models reports, with held-out errors of sd 5 years (bands: 3 years of regression
    to the mean at either end) and the West's shifted by `west_bias`."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(["M", "F"], rows).astype(object)
    region = rng.choice(REGIONS, rows).astype(object)
    band_index = rng.integers(0, len(BANDS), rows)
    err = rng.normal(0, 5, rows) + np.linspace(2.5, -2.5, len(BANDS))[band_index] + west_bias * (region == "west")
    y = rng.uniform(20, 80, rows)
    fairness = (group_errors("gender", gender, y, y + err) + group_errors("region", region, y, y + err)
                + group_errors("age_band", np.array(BANDS, dtype=object)[band_index], y, y + err))
    return {"fairness": fairness, "xgboost": {"mae": 4.0, "within_5": 0.7}, "ridge": {"mae": 5.0}, "test_rows": rows,
            "interval": {"coverage": 0.8, "mean_width": 13.0}, "confidence_deciles": [{"mae": 6 - d / 2} for d in range(10)]}


def gates_of(ev: dict, **config) -> tuple[dict, list[dict]]:
    rows = ev["test_rows"]
    errors = {"candidate": np.full(rows, 4.0), "ridge": np.full(rows, 5.0), "confidence": np.linspace(0, 1, rows)}
    gates, fairness, _ = model_gates(ev, errors, PredictAgeConfig(**config))
    return {g.name: g for g in gates}, fairness


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clean_errors_pass_when_the_rows_can_tell_and_warn_when_they_cannot(seed):
    gates, fairness = gates_of(evaluation(60_000, seed))
    assert [g["verdict"] for g in fairness] == ["pass"] * 3
    assert {g["comparisons"] for g in fairness} == {2 + 1 + 4 + 6 + 7 + 21}  # every bias and pair of the three, held jointly
    assert gates["fairness"].passed and gates["fairness_conclusive"].passed

    gates, fairness = gates_of(evaluation(700, seed))  # make run's held-out split at ROWS=20000
    assert "inconclusive" in {g["verdict"] for g in fairness} and "fail" not in {g["verdict"] for g in fairness}
    assert gates["fairness"].passed and not gates["fairness_conclusive"].passed and not gates["fairness_conclusive"].blocking
    assert "open" in gates["fairness_conclusive"].metadata and "about" in gates["fairness"].metadata["reason"]
    blocked, _ = gates_of(evaluation(700, seed), fairness_inconclusive="block")
    assert not blocked["fairness"].passed and blocked["fairness"].blocking


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rows", [20_000, 60_000])
def test_a_planted_regional_bias_fails_and_is_named(seed, rows):
    gates, fairness = gates_of(evaluation(rows, seed, west_bias=2.0))  # twice the 1-year limit
    region = next(g for g in fairness if g["attribute"] == "region")
    assert region["verdict"] == "fail" and region["abs_bias_group"] == "west" and region["abs_bias_interval"][0] > 1.0
    assert not gates["fairness"].passed and "region: confidently beyond the limits" in gates["fairness"].metadata["reason"]
    assert next(g for g in fairness if g["attribute"] == "gender")["verdict"] != "fail"


def test_the_summary_and_the_check_show_each_figure_beside_its_interval():
    _, fairness = gates_of(evaluation(700, 1))
    lines = _fairness_lines(fairness)
    assert lines[0].startswith("  fairness   (95% intervals held jointly over 41 comparisons")
    for gate in fairness:
        line = next(line for line in lines if line.startswith(f"  fairness   {gate['attribute']} "))
        low, high = gate["abs_bias_interval"]
        assert f"{gate['max_abs_bias']} [{low}, {high}] <= {gate['max_abs_bias_allowed']}" in line
        assert line.endswith({"pass": ": pass", "fail": ": FAIL", "inconclusive": ": inconclusive"}[gate["verdict"]])
    opened = [line for line in lines if line.startswith("             open")]
    assert len(opened) == sum(g["verdict"] == "inconclusive" for g in fairness) and " -> ~" in opened[0]
    table = fairness_table(fairness)
    assert all("[" in row["mae_ratio"] and "<=" in row["abs_bias"] for row in table)
