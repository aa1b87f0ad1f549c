"""Deployment and output gates of the engagement job, as plain functions returning named results.

Gates on statistics judge with their uncertainty, so a verdict does not flip with sample size:
a fairness gate FAILS only when we are confident the disparity exceeds the limit, i.e. when the
lower bound of a two-sided `confidence_level` Newcombe (hybrid Wilson score) interval of the
difference of two proportions is above the limit. The difference judged is the one between the
groups with the highest and lowest rate, the pair behind fairlearn's point value. Groups with
fewer than `min_group_rows` rows are reported but neither gated nor allowed to be that pair:
their rates are too noisy to block or pass a model on. Newcombe's interval keeps its coverage
near 0 and 1 and for unequal group sizes, where a Wald interval does not, and needs no
resampling.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from platform_assets.engagement.logic.scoring import CHURN_RISK_TIERS, ENGAGEMENT_TIERS
from platform_assets.engagement.logic.world import KEY
from platform_core.gates import GateResult
from platform_core.metrics import wilson_interval

MAX_DP_DIFFERENCE = 0.1
MAX_EO_DIFFERENCE = 0.1
MAX_PROXY_AUC = 0.75
MIN_GROUP_ROWS = 100
CALIBRATION_TOLERANCE = 0.05
CHAMPION_TOLERANCE = 0.01


def _round(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def newcombe_interval(hits_a: int, rows_a: int, hits_b: int, rows_b: int, confidence_level: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p_a - p_b."""
    p_a, p_b = hits_a / rows_a, hits_b / rows_b
    (low_a, low_b), (high_a, high_b) = wilson_interval(np.array([hits_a, hits_b]), np.array([rows_a, rows_b]), confidence_level)
    difference = p_a - p_b
    return (
        float(difference - np.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)),
        float(difference + np.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)),
    )


def quality_gate(metrics: dict, min_r2: float, max_rmse: float) -> GateResult:
    """Test R² and RMSE on the held-out split within the limits."""
    passed = metrics["r2"] >= min_r2 and metrics["rmse"] <= max_rmse
    return GateResult("holdout_quality", bool(passed), {
        "r2": _round(metrics["r2"]), "rmse": _round(metrics["rmse"]), "mae": _round(metrics["mae"]),
        "min_r2": min_r2, "max_rmse": max_rmse,
    })


def _rate_gap(rates: pl.DataFrame, hits: str, rows: str, limit: float, confidence_level: float, min_group_rows: int) -> dict:
    """Largest gap in hits/rows between gated groups, with its Newcombe interval and verdict."""
    gated = rates.filter(pl.col(rows) >= min_group_rows).with_columns((pl.col(hits) / pl.col(rows)).alias("rate")).sort("rate")
    if len(gated) < 2:
        return {"difference": 0.0, "interval": [0.0, 0.0], "groups": [], "passed": True}
    low, high = gated.row(0, named=True), gated.row(-1, named=True)
    interval = newcombe_interval(high[hits], high[rows], low[hits], low[rows], confidence_level)
    return {
        "difference": _round(high["rate"] - low["rate"]), "interval": [_round(interval[0]), _round(interval[1])],
        "groups": [high["group"], low["group"]], "passed": interval[0] <= limit,
    }


def fairness_gates(pred: np.ndarray, y_true: np.ndarray, groups: dict[str, np.ndarray], max_dp_difference: float = MAX_DP_DIFFERENCE,
                   max_eo_difference: float = MAX_EO_DIFFERENCE, threshold: float = 0.5, confidence_level: float = 0.95,
                   min_group_rows: int = MIN_GROUP_ROWS) -> list[GateResult]:
    """Per protected attribute: "demographic_parity_<attr>" and "equalized_odds_<attr>" (see module docstring).

    Scores and labels are binarized at `threshold`. Demographic parity compares selection rates;
    equalized odds compares true- and false-positive rates and fails if either gap is
    confidently above its limit. Point values are fairlearn's between-groups differences over the
    gated groups (what demographic_parity_difference and equalized_odds_difference return), from
    one MetricFrame per attribute.
    """
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    selected = np.asarray(pred) > threshold
    positive = np.asarray(y_true) > threshold
    results = []
    for attribute, values in groups.items():
        values = np.asarray(values).astype(str)
        frame = pl.DataFrame({"group": values, "selected": selected, "positive": positive})
        table = frame.group_by("group").agg(
            pl.len().alias("rows"), pl.col("selected").sum().alias("selected_rows"),
            pl.col("positive").sum().alias("positives"), (pl.col("selected") & pl.col("positive")).sum().alias("true_positives"),
            (~pl.col("positive")).sum().alias("negatives"), (pl.col("selected") & ~pl.col("positive")).sum().alias("false_positives"),
        ).sort("group")
        gated = np.isin(values, table.filter(pl.col("rows") >= min_group_rows)["group"].to_numpy())
        point = {"selection_rate": 0.0, "true_positive_rate": 0.0, "false_positive_rate": 0.0}
        if gated.any():
            point = MetricFrame(
                metrics={"selection_rate": selection_rate, "true_positive_rate": true_positive_rate, "false_positive_rate": false_positive_rate},
                y_true=positive[gated].astype(np.int8), y_pred=selected[gated].astype(np.int8), sensitive_features=values[gated],
            ).difference(method="between_groups").to_dict()
        dp_point = point["selection_rate"]
        eo_point = max(point["true_positive_rate"], point["false_positive_rate"])
        group_table = [
            {"group": row["group"], "rows": row["rows"], "gated": row["rows"] >= min_group_rows,
             "selection_rate": _round(row["selected_rows"] / row["rows"]),
             "true_positive_rate": _round(row["true_positives"] / max(row["positives"], 1)),
             "false_positive_rate": _round(row["false_positives"] / max(row["negatives"], 1))}
            for row in table.iter_rows(named=True)
        ]
        dp = _rate_gap(table, "selected_rows", "rows", max_dp_difference, confidence_level, min_group_rows)
        tpr = _rate_gap(table, "true_positives", "positives", max_eo_difference, confidence_level, min_group_rows)
        fpr = _rate_gap(table, "false_positives", "negatives", max_eo_difference, confidence_level, min_group_rows)
        common = {"attribute": attribute, "threshold": threshold, "confidence_level": confidence_level,
                  "min_group_rows": min_group_rows, "by_group": group_table}
        results.append(GateResult(f"demographic_parity_{attribute}", bool(dp["passed"]), {
            **common, "difference": _round(dp_point), "interval": dp["interval"], "between": dp["groups"],
            "max_difference": max_dp_difference,
        }))
        results.append(GateResult(f"equalized_odds_{attribute}", bool(tpr["passed"] and fpr["passed"]), {
            **common, "difference": _round(eo_point), "max_difference": max_eo_difference,
            "true_positive_rate": {key: tpr[key] for key in ("difference", "interval", "groups")},
            "false_positive_rate": {key: fpr[key] for key in ("difference", "interval", "groups")},
        }))
    return results


def proxy_strengths(features: dict[str, np.ndarray] | pl.DataFrame, groups: dict[str, np.ndarray],
                    min_group_rows: int = MIN_GROUP_ROWS) -> list[dict]:
    """How well each feature alone separates each protected group from the rest, strongest first.

    Strength is the one-vs-rest ROC AUC folded as max(auc, 1 - auc): 0.5 is no information,
    1.0 a perfect proxy, whatever the direction or scale. Computed from ranks (Mann-Whitney) for
    all features and groups at once; missing values take the feature's median rank.
    """
    from scipy.stats import rankdata

    names = list(features.columns if isinstance(features, pl.DataFrame) else features)
    matrix = np.column_stack([np.asarray(features[name], dtype=np.float64) for name in names])
    matrix = np.where(np.isnan(matrix), np.nanmedian(matrix, axis=0), matrix)
    ranks = rankdata(matrix, axis=0)
    rows = []
    for attribute, values in groups.items():
        values = np.asarray(values).astype(str)
        for group in np.unique(values):
            member = values == group
            size = int(member.sum())
            if size < min_group_rows or size == len(values):
                continue
            auc = (ranks[member].sum(axis=0) - size * (size + 1) / 2) / (size * (len(values) - size))
            rows += [{"feature": name, "attribute": attribute, "group": str(group), "strength": float(max(a, 1 - a))}
                     for name, a in zip(names, auc)]
    return sorted(rows, key=lambda row: -row["strength"])


def proxy_gate(features: dict[str, np.ndarray] | pl.DataFrame, groups: dict[str, np.ndarray], max_strength: float = MAX_PROXY_AUC,
               top: int = 10, min_group_rows: int = MIN_GROUP_ROWS) -> GateResult:
    """No selected feature is a strong proxy of a protected group (folded one-vs-rest AUC <= max_strength)."""
    strengths = proxy_strengths(features, groups, min_group_rows)
    flagged = [row for row in strengths if row["strength"] > max_strength]
    rounded = [{**row, "strength": _round(row["strength"])} for row in strengths]
    return GateResult("no_proxy_features", not flagged, {
        "max_strength": max_strength, "measure": "one-vs-rest ROC AUC, folded", "flagged": rounded[: len(flagged)],
        "top_pairs": rounded[:top],
    })


def calibration_gate(y_true: np.ndarray, pred: np.ndarray, confidence: np.ndarray, tolerance: float = CALIBRATION_TOLERANCE,
                     confidence_level: float = 0.95) -> GateResult:
    """Mean confidence is the observed tier accuracy within `tolerance`.

    Fails only when the Wilson interval of the observed accuracy lies wholly outside
    mean confidence +- tolerance.
    """
    from platform_assets.engagement.logic.model import tier_accuracy

    measured = tier_accuracy(y_true, pred, confidence)
    low, high = wilson_interval(np.array([measured["hits"]]), np.array([measured["rows"]]), confidence_level)
    band = (measured["mean_confidence"] - tolerance, measured["mean_confidence"] + tolerance)
    passed = high[0] >= band[0] and low[0] <= band[1]
    return GateResult("confidence_calibrated", bool(passed), {
        "rows": measured["rows"], "mean_confidence": _round(measured["mean_confidence"]),
        "observed_tier_accuracy": _round(measured["observed"]), "interval": [_round(low[0]), _round(high[0])],
        "tolerance": tolerance, "by_decile": measured["by_decile"],
    })


def output_checks(scores: pl.DataFrame, expected_rows: int) -> list[GateResult]:
    """Checks of a written score table: row count, unique ids, values in [0, 1], known tiers."""
    unit_columns = ["engagement_score", "churn_probability", "confidence"]
    out_of_range = {
        name: int(scores.select((pl.col(name).is_null() | pl.col(name).is_nan() | (pl.col(name) < 0) | (pl.col(name) > 1)).sum()).item())
        for name in unit_columns
    }
    known = {"engagement_tier": [name for _, _, name in ENGAGEMENT_TIERS], "churn_risk_tier": [name for _, _, name in CHURN_RISK_TIERS]}
    unknown_tiers = {
        column: int(scores.select((pl.col(column).is_null() | ~pl.col(column).is_in(names)).sum()).item())
        for column, names in known.items()
    }
    duplicates = len(scores) - scores[KEY].n_unique()
    return [
        GateResult("row_count_matches_input", len(scores) == expected_rows, {"rows": len(scores), "expected_rows": expected_rows}),
        GateResult("customer_id_unique", duplicates == 0 and scores[KEY].null_count() == 0,
                   {"duplicate_rows": duplicates, "null_ids": scores[KEY].null_count()}),
        GateResult("scores_in_unit_range", not any(out_of_range.values()), {"rows_null_or_outside": out_of_range}),
        GateResult("tiers_complete", not any(unknown_tiers.values()), {"rows_null_or_unknown": unknown_tiers}),
    ]


def champion_gate(candidate_r2: float, champion_r2: float | None, tolerance: float = CHAMPION_TOLERANCE) -> GateResult:
    """The candidate's test R² is at most `tolerance` below the serving champion's (passes with no champion)."""
    passed = champion_r2 is None or candidate_r2 >= champion_r2 - tolerance
    return GateResult("not_worse_than_champion", bool(passed), {
        "candidate_r2": _round(candidate_r2), "champion_r2": None if champion_r2 is None else _round(champion_r2), "tolerance": tolerance,
    }, blocking=False)
