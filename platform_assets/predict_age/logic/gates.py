"""predict_age's gates as plain functions: the model gates that decide promotion and the
final-table checks that quarterly and daily tables share.

A model gate on a held-out figure judges it by its 95% interval (platform_core/verdicts.py): pass
within the limit, fail beyond it, inconclusive when the interval straddles it (a warning by
default, `<gate>_inconclusive: block` to block), and `gates_conclusive` names each open figure and
about how many held-out rows would settle it. Intervals: held-out MAE, the mean of per-row |error|
(normal, central limit); a share (within 5 years, interval coverage), Wilson; the candidate
against the champion, the mean of per-row |candidate error| - |champion error| on the same rows
(paired, normal), against `champion_tolerance` x the champion's MAE; the candidate against the
Ridge baseline, the same paired mean against 0; the most confident decile's MAE minus the least
confident's (two disjoint deciles, Welch), against 0. holdout_quality's two figures share its 95%
(Bonferroni).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from scipy.stats import spearmanr

from platform_core.fairness import FairnessThresholds, comparisons, evaluate_gate
from platform_core.gates import GateResult
from platform_core.metrics import mean_interval, wilson_interval
from platform_core.reports import markdown_table
from platform_core.verdicts import (
    INCONCLUSIVE, conclusive_gate, judged, open_reason, passes, per_comparison_level, proportion_within, shown, worst)

MODEL_GATES = {
    "holdout_quality": "XGBoost held-out MAE and share within 5 years meet the configured floors, judged by their "
                       "intervals; an inconclusive verdict fails only when quality_inconclusive is block.",
    "beats_baseline": "XGBoost's held-out MAE is confidently below the Ridge baseline's on the same rows (paired interval "
                      "of the per-row difference); an inconclusive verdict fails only when quality_inconclusive is block.",
    "interval_calibration": "The calibrated interval's held-out coverage is within the tolerance of its nominal share "
                            "(Wilson interval); an inconclusive verdict fails only when calibration_inconclusive is block.",
    "confidence_ranks_errors": "Confidence means something: the most confident decile's held-out MAE is confidently below "
                               "the least confident decile's (Welch interval; the deciles' Spearman correlation is shown "
                               "beside it); an inconclusive verdict fails only when quality_inconclusive is block.",
    "fairness": "Per-group MAE ratio and |bias| across gender, region and age band not confidently beyond the configured "
                "thresholds (intervals held jointly over every comparison); an inconclusive verdict fails only when "
                "fairness_inconclusive is block.",
    "fairness_conclusive": "The held-out rows settle every fairness comparison (warning: names each open group, its rows "
                           "and about how many would resolve a difference of the limit's size).",
    "not_worse_than_champion": "Held-out MAE no worse than the current champion's on the same rows, beyond the tolerance "
                               "(paired interval of the per-row difference); an inconclusive verdict holds back promotion "
                               "only when champion_inconclusive is block.",
    "gates_conclusive": "The held-out rows settle every judged figure of holdout_quality, beats_baseline, "
                        "interval_calibration, confidence_ranks_errors and not_worse_than_champion (warning: names each open figure, its interval, its rows and about how "
                        "many would settle it).",
}
WARNINGS = ("fairness_conclusive", "gates_conclusive")  # say what a run could not tell; never block nor hold back promotion
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


def inconclusive_warnings(gates: list[dict], figures: dict[str, dict]) -> list[str]:
    """A line per attribute and judged figure the held-out rows could not settle, naming what is missing."""
    return ([f"fairness of {g['attribute']} is inconclusive: {g['reason']} (fairness_inconclusive: {g['inconclusive']})"
             for g in gates if g["verdict"] == INCONCLUSIVE]
            + [open_reason(label, j) for label, j in figures.items() if j["verdict"] == INCONCLUSIVE])


def decile_correlation(deciles: list[dict]) -> float:
    """Spearman correlation between confidence decile and MAE (-1: MAE falls as confidence rises);
    scipy ranks ties by their average rank."""
    mae = np.array([d["mae"] for d in deciles])
    if len(mae) <= 2 or np.all(mae == mae[0]):
        return -1.0 if len(mae) <= 2 else 0.0
    return float(spearmanr(np.arange(len(mae)), mae).statistic)


CONFIDENCE_LEVEL = 0.95  # of each judged model gate (module docstring)


def judged_figures(ev: dict, errors: dict[str, np.ndarray], config) -> dict[str, dict]:
    """Each held-out figure a model gate compares with a limit, judged by its interval (module docstring)."""
    candidate, rows = errors["candidate"], len(errors["candidate"])
    level = per_comparison_level(CONFIDENCE_LEVEL, 2)  # holdout_quality's two figures
    mae, low, high = mean_interval(candidate, level)
    within = int((candidate <= 5).sum())
    (share_low,), (share_high,) = wilson_interval(np.array([within]), np.array([rows]), level)
    coverage = ev["interval"]["coverage"]
    figures = {
        "holdout MAE": judged(mae, low, high, config.max_holdout_mae, rows, config.quality_inconclusive),
        "holdout within 5 y": judged(within / rows, share_low, share_high, config.min_holdout_within_5, rows,
                                     config.quality_inconclusive, at_least=True),
        "interval coverage |deviation|": proportion_within(round(coverage * ev["test_rows"]), ev["test_rows"],
                                                           config.interval_coverage, config.interval_tolerance,
                                                           config.calibration_inconclusive, CONFIDENCE_LEVEL),
    }
    difference, low, high = mean_interval(candidate - errors["ridge"], CONFIDENCE_LEVEL)
    figures["MAE minus Ridge's"] = judged(difference, low, high, 0.0, rows, config.quality_inconclusive)
    order = np.argsort(errors["confidence"], kind="stable")
    least, most = (candidate[part] for part in (order[: rows // 10], order[-(rows // 10):]))
    difference = float(most.mean() - least.mean())  # two disjoint deciles: Welch's interval
    z = NormalDist().inv_cdf(0.5 + CONFIDENCE_LEVEL / 2)
    half = z * math.sqrt(most.var(ddof=1) / len(most) + least.var(ddof=1) / len(least))
    figures["MAE, most - least confident"] = judged(difference, difference - half, difference + half, 0.0, len(most),
                                                          config.quality_inconclusive)
    if "champion" in errors:
        difference, low, high = mean_interval(candidate - errors["champion"], CONFIDENCE_LEVEL)
        figures["MAE minus the champion's"] = judged(difference, low, high,
                                                     round(config.champion_tolerance * float(errors["champion"].mean()), 4),
                                                     rows, config.champion_inconclusive)
    return figures


def model_gates(ev: dict, errors: dict[str, np.ndarray], config) -> tuple[list[GateResult], list[dict], dict[str, dict]]:
    """The model gates of a quarter's evaluation (`train_age_models`) and its held-out errors
    (`held_out_errors`), the per-attribute fairness verdicts and the judged figures. `config`
    carries the thresholds (PredictAgeConfig's fields)."""
    figures = judged_figures(ev, errors, config)
    quality = worst([figures["holdout MAE"]["verdict"], figures["holdout within 5 y"]["verdict"]])
    calibration = figures["interval coverage |deviation|"]
    champion = figures.get("MAE minus the champion's")
    baseline, ranked = figures["MAE minus Ridge's"], figures["MAE, most - least confident"]
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
        GateResult("holdout_quality", passes(quality, config.quality_inconclusive),
                   {"verdict": quality, "mae": xgb["mae"], "within_5": xgb["within_5"], "max_mae": config.max_holdout_mae,
                    "min_within_5": config.min_holdout_within_5, "mae_judged": figures["holdout MAE"],
                    "within_5_judged": figures["holdout within 5 y"], "inconclusive": config.quality_inconclusive}),
        GateResult("beats_baseline", passes(baseline["verdict"], config.quality_inconclusive),
                   {**baseline, "shown": shown(baseline), "xgboost_mae": xgb["mae"], "ridge_mae": ev["ridge"]["mae"]}),
        GateResult("interval_calibration", passes(calibration["verdict"], config.calibration_inconclusive),
                   {**calibration, "coverage": ev["interval"]["coverage"], "nominal": config.interval_coverage,
                    "tolerance": config.interval_tolerance, "mean_width": ev["interval"]["mean_width"]}),
        GateResult("confidence_ranks_errors", passes(ranked["verdict"], config.quality_inconclusive),
                   {**ranked, "shown": shown(ranked), "spearman": round(correlation, 4),
                    "lowest_decile_mae": deciles[0]["mae"], "highest_decile_mae": deciles[-1]["mae"]}),
        GateResult("fairness", all(g["passed"] for g in fairness),
                   {"verdict": fairness_verdict, "inconclusive": config.fairness_inconclusive,
                    "reason": "; ".join(f"{g['attribute']}: {g['reason']}" for g in fairness),
                    "gates": markdown_table(fairness_table(fairness)), "groups": markdown_table(ev["fairness"])}),
        GateResult("fairness_conclusive", fairness_verdict != INCONCLUSIVE,
                   {"verdict": fairness_verdict, "open": markdown_table([
                       {"attribute": g["attribute"], **o} for g in fairness for o in g["open_groups"]])}, blocking=False),
        GateResult("not_worse_than_champion", champion is None or passes(champion["verdict"], config.champion_inconclusive),
                   {**(champion or {"verdict": "no champion yet"}), "candidate_mae": xgb["mae"], "champion_mae": champion_mae,
                    "champion": ev.get("champion", {}).get("version", "none yet"), "tolerance": config.champion_tolerance},
                   blocking=False),  # decides promotion; downstream goes on with the current champion
        conclusive_gate("gates_conclusive", figures),
    ]
    return gates, fairness, figures


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
