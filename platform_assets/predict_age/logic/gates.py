"""predict_age's gates as plain functions: the model gates that decide promotion and the
final-table checks that quarterly and daily tables share."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from platform_core.fairness import FairnessThresholds, comparisons, evaluate_gate
from platform_core.gates import GateResult
from platform_core.reports import markdown_table
from platform_core.verdicts import INCONCLUSIVE, worst

MODEL_GATES = {
    "holdout_quality": "XGBoost held-out MAE and share within 5 years meet the configured floors.",
    "beats_baseline": "XGBoost beats the Ridge baseline on held-out MAE.",
    "interval_calibration": "The calibrated interval covers its nominal share of held-out rows, within the tolerance.",
    "confidence_ranks_errors": "Held-out MAE falls as confidence rises: decile MAE strongly anti-correlated with confidence.",
    "fairness": "Per-group MAE ratio and |bias| across gender, region and age band not confidently beyond the configured "
                "thresholds (intervals held jointly over every comparison); an inconclusive verdict fails only when "
                "fairness_inconclusive is block.",
    "fairness_conclusive": "The held-out rows settle every fairness comparison (warning: names each open group, its rows "
                           "and about how many would resolve a difference of the limit's size).",
    "not_worse_than_champion": "Held-out MAE no worse than the current champion's on the same rows, beyond the tolerance.",
}
WARNINGS = ("fairness_conclusive",)  # say what a run could not tell; never block nor hold back promotion
FINAL_TABLE_GATES = {
    "row_count_matches_source": "One row per distinct source pid.",
    "pid_unique": "No pid appears twice.",
    "full_coverage": "Every row has a predicted_age.",
    "age_in_bounds": "Every predicted_age lies within the configured bounds.",
    "confidence_in_unit_range": "Every confidence_score lies in [0, 1].",
    "sources_consistent": "Rows with a usable existing age carry it (EXISTING_*); the rest are ML_PREDICTION or DEFAULT_RULE.",
}


AGE_COLUMNS = {"approximate_age": "usable_approximate_age", "birth_year": "usable_birth_year"}


def usable_age_gate(figures: dict, floor: float, max_drop: float, previous: dict | None) -> GateResult:
    """Each existing-age column on its own: its usable share at least `floor`, and not fallen by
    more than `max_drop` (a share) from the previous quarter's. A format change in one column
    (every approximate_age arriving as 'x45') fails even when the other column keeps the
    combined rate up. `figures` and `previous` are source_snapshot's recorded metadata."""
    table = []
    for column, count in AGE_COLUMNS.items():
        rate = figures[count] / figures["rows_out"] if figures["rows_out"] else 0.0
        before = previous[count] / previous["rows_out"] if previous and previous.get("rows_out") and count in previous else None
        passed = rate >= floor and (before is None or rate >= before * (1 - max_drop))
        table.append({"column": column, "usable_rate": round(rate, 4),
                      "previous_quarter_rate": None if before is None else round(before, 4), "passed": passed})
    return GateResult("usable_age_rate", all(r["passed"] for r in table),
                      {"columns": markdown_table(table), "floor": floor, "max_drop_from_previous": max_drop})


def fairness_gates(fairness: list[dict], general: FairnessThresholds, age_bands: FairnessThresholds) -> list[dict]:
    """One verdict per attribute, age bands with their own thresholds; the intervals hold jointly
    over every comparison of the three (platform_core.fairness)."""
    judged = {a: ([r for r in fairness if r["attribute"] == a], age_bands if a == "age_band" else general)
              for a in ("gender", "region", "age_band")}
    family = sum(comparisons(rows, limits) for rows, limits in judged.values())
    return [{"attribute": a, **evaluate_gate(rows, limits, family)} for a, (rows, limits) in judged.items()]


def with_interval(gate: dict, figure: str) -> str:
    """`1.106 [0.93, 1.31] <= 1.25`: a fairness figure (`mae_ratio` or `abs_bias`) beside its interval and limit."""
    if f"{figure}_interval" not in gate:
        return "-"
    low, high = gate[f"{figure}_interval"]
    return f"{gate['max_abs_bias' if figure == 'abs_bias' else figure]} [{low}, {high}] <= {gate[f'max_{figure}_allowed']}"


def fairness_table(gates: list[dict]) -> list[dict]:
    """The fairness gates as a person reads them: each figure beside its interval and limit, the verdict, the groups."""
    return [{"attribute": g["attribute"], "verdict": g["verdict"], "mae_ratio": with_interval(g, "mae_ratio"),
             "abs_bias": with_interval(g, "abs_bias"), "groups": g["group_rows"], "comparisons": g["comparisons"],
             "reason": g["reason"]} for g in gates]


def inconclusive_warnings(gates: list[dict]) -> list[str]:
    """A line per attribute the held-out rows could not settle, naming what is missing."""
    return [f"fairness of {g['attribute']} is inconclusive: {g['reason']} (fairness_inconclusive: {g['inconclusive']})"
            for g in gates if g["verdict"] == INCONCLUSIVE]


def decile_correlation(deciles: list[dict]) -> float:
    """Spearman correlation between confidence decile and MAE (-1: MAE falls as confidence rises);
    scipy ranks ties by their average rank."""
    mae = np.array([d["mae"] for d in deciles])
    if len(mae) <= 2 or np.all(mae == mae[0]):
        return -1.0 if len(mae) <= 2 else 0.0
    return float(spearmanr(np.arange(len(mae)), mae).statistic)


def model_gates(ev: dict, config) -> tuple[list[GateResult], list[dict]]:
    """The model gates of a quarter's evaluation (`train_age_models`), and the per-attribute
    fairness verdicts. `config` carries the thresholds (PredictAgeConfig's fields)."""
    coverage, nominal = ev["interval"]["coverage"], config.interval_coverage
    # the configured tolerance, widened to the 99% binomial band when the test split is small
    allowed = max(config.interval_tolerance, 2.576 * float(np.sqrt(nominal * (1 - nominal) / ev["test_rows"])))
    deciles = ev["confidence_deciles"]
    correlation = decile_correlation(deciles)
    shared = {"min_rows": config.fairness_min_group_rows, "confidence_level": config.fairness_confidence_level,
              "inconclusive": config.fairness_inconclusive}
    fairness = fairness_gates(
        ev["fairness"], FairnessThresholds(config.fairness_max_mae_ratio, config.fairness_max_abs_bias, **shared),
        FairnessThresholds(config.fairness_age_band_max_mae_ratio, config.fairness_age_band_max_abs_bias, **shared))
    fairness_verdict = worst([g["verdict"] for g in fairness])
    xgb, champion_mae = ev["xgboost"], ev.get("champion", {}).get("mae")
    gates = [
        GateResult("holdout_quality", xgb["mae"] <= config.max_holdout_mae and xgb["within_5"] >= config.min_holdout_within_5,
                   {"mae": xgb["mae"], "within_5": xgb["within_5"], "max_mae": config.max_holdout_mae,
                    "min_within_5": config.min_holdout_within_5}),
        GateResult("beats_baseline", xgb["mae"] < ev["ridge"]["mae"],
                   {"xgboost_mae": xgb["mae"], "ridge_mae": ev["ridge"]["mae"]}),
        GateResult("interval_calibration", abs(coverage - nominal) <= allowed,
                   {"coverage": coverage, "nominal": nominal, "allowed_deviation": round(allowed, 4),
                    "mean_width": ev["interval"]["mean_width"]}),
        GateResult("confidence_ranks_errors", correlation <= -0.6 and deciles[-1]["mae"] < deciles[0]["mae"],
                   {"spearman": round(correlation, 4), "lowest_decile_mae": deciles[0]["mae"],
                    "highest_decile_mae": deciles[-1]["mae"]}),
        GateResult("fairness", all(g["passed"] for g in fairness),
                   {"verdict": fairness_verdict, "inconclusive": config.fairness_inconclusive,
                    "reason": "; ".join(f"{g['attribute']}: {g['reason']}" for g in fairness),
                    "gates": markdown_table(fairness_table(fairness)), "groups": markdown_table(ev["fairness"])}),
        GateResult("fairness_conclusive", fairness_verdict != INCONCLUSIVE,
                   {"verdict": fairness_verdict, "open": markdown_table([
                       {"attribute": g["attribute"], **o} for g in fairness for o in g["open_groups"]])}, blocking=False),
        GateResult("not_worse_than_champion",
                   champion_mae is None or xgb["mae"] <= champion_mae * (1 + config.champion_tolerance),
                   {"candidate_mae": xgb["mae"], "champion_mae": champion_mae,
                    "champion": ev.get("champion", {}).get("version", "none yet"), "tolerance": config.champion_tolerance},
                   blocking=False),  # decides promotion; downstream goes on with the current champion
    ]
    return gates, fairness


def final_table_gates(f: dict) -> list[GateResult]:
    """The checks of a final table (a quarter's or a day's), from the merge's figures."""
    return [
        GateResult("row_count_matches_source", f["rows"] == f["source_pids"], {"rows": f["rows"], "source_pids": f["source_pids"]}),
        GateResult("pid_unique", f["distinct_pids"] == f["rows"], {"rows": f["rows"], "distinct_pids": f["distinct_pids"]}),
        GateResult("full_coverage", f["null_ages"] == 0, {"null_ages": f["null_ages"]}),
        GateResult("age_in_bounds", f["out_of_range_ages"] == 0, {"out_of_range": f["out_of_range_ages"]}),
        GateResult("confidence_in_unit_range", f["bad_confidence"] == 0, {"bad_confidence": f["bad_confidence"]}),
        GateResult("sources_consistent", f["inconsistent_sources"] == 0, {"inconsistent": f["inconsistent_sources"]}),
    ]
