"""Deployment and output gates of the engagement job, as plain functions returning named results.

Gates on statistics judge with their uncertainty and say pass, fail or inconclusive
(platform_core/verdicts.py). A fairness gate compares the rates of every pair of gated groups:
each pair's gap gets a Newcombe (hybrid Wilson score) interval, and the largest gap's interval
runs from the largest lower to the largest upper bound over the pairs, so picking the most
extreme pair after looking is allowed for. The fairness gates compare many pairs at once (every
pair of every attribute, for selection, true- and false-positive rates), so each interval is drawn
at `confidence_level` shared among them (Bonferroni): clean data fail no more often than
1 - `confidence_level` in all. pass: the largest gap's interval lies within the limit; fail: beyond
it; inconclusive: it straddles the limit, or a group has fewer than `min_group_rows` rows (too noisy
to judge), naming each open group, its rows and about how many would resolve a gap of the limit's
size. Inconclusive warns (`inconclusive="warn"`, the default) or blocks (`"block"`). Newcombe's
interval keeps its coverage near 0 and 1 and for unequal group sizes, where a Wald interval does
not, and needs no resampling.

The other gates on a test-split figure are judged the same three ways by a 95% interval, each with
its own `inconclusive` setting, and `gates_conclusive` warns naming each open figure and about how
many test rows would settle it. Intervals: test RMSE and R² from the mean squared error's normal
(central limit) interval, the labels' variance on these rows held fixed (the two figures share the
95%, Bonferroni); calibration, the observed tier accuracy's Wilson interval against the mean
confidence; the champion comparison, the mean of per-row (candidate squared error - champion
squared error) / variance of the labels on the same rows, which is the champion's R² minus the
candidate's, with its paired normal interval.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import polars as pl

from platform_assets.engagement.logic.scoring import CHURN_RISK_TIERS, ENGAGEMENT_TIERS
from platform_assets.engagement.logic.world import KEY
from platform_core.gates import GateResult
from platform_core.metrics import mean_interval, wilson_interval
from platform_core.verdicts import (
    DEFAULT_INCONCLUSIVE, FAIL, INCONCLUSIVE, PASS, Inconclusive, conclusive_gate, critical_value, judged, passes,
    per_comparison_level, proportion_within, rows_to_clear, rows_to_resolve, verdict, worst)

MAX_DP_DIFFERENCE = 0.1
MAX_EO_DIFFERENCE = 0.1
MAX_PROXY_AUC = 0.75
MIN_GROUP_ROWS = 100
CONFIDENCE_LEVEL = 0.95  # of each judged gate (module docstring)
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


def quality_gate(y_true: np.ndarray, pred: np.ndarray, min_r2: float, max_rmse: float,
                 inconclusive: Inconclusive = DEFAULT_INCONCLUSIVE) -> GateResult:
    """Test R² and RMSE on the held-out split within the limits, judged by their intervals (module docstring)."""
    y, squared = np.asarray(y_true, dtype=np.float64), (np.asarray(y_true) - np.asarray(pred)) ** 2
    rows, variance = len(y), float(np.mean((y - y.mean()) ** 2))
    mse, low, high = mean_interval(squared, per_comparison_level(CONFIDENCE_LEVEL, 2))
    figures = {"test R²": judged(1 - mse / variance, 1 - high / variance, 1 - low / variance, min_r2, rows, inconclusive,
                                 at_least=True),
               "test RMSE": judged(np.sqrt(mse), np.sqrt(max(low, 0.0)), np.sqrt(high), max_rmse, rows, inconclusive)}
    outcome = worst([f["verdict"] for f in figures.values()])
    return GateResult("holdout_quality", passes(outcome, inconclusive), {
        "verdict": outcome, "r2": _round(1 - mse / variance), "rmse": _round(np.sqrt(mse)),
        "mae": _round(np.mean(np.abs(y - np.asarray(pred)))), "min_r2": min_r2, "max_rmse": max_rmse, "figures": figures,
        "inconclusive": inconclusive,
    })


RATES = {"selection_rate": ("selected_rows", "rows"), "true_positive_rate": ("true_positives", "positives"),
         "false_positive_rate": ("false_positives", "negatives")}


def _pairs(rates: pl.DataFrame, rows: str, min_group_rows: int) -> int:
    k = rates.filter(pl.col(rows) >= min_group_rows).height
    return k * (k - 1) // 2


def _rate_gap(rates: pl.DataFrame, hits: str, rows: str, limit: float, level: float, z: float, min_group_rows: int) -> dict:
    """The largest gap in hits/rows between gated groups, its interval over every pair at `level`
    (module docstring), the verdict and the groups that leave it open."""
    table = rates.filter(pl.col(rows) > 0).with_columns((pl.col(hits) / pl.col(rows)).alias("rate")).sort("rate")
    gated = table.filter(pl.col(rows) >= min_group_rows)
    opened = {r["group"]: r for r in table.filter(pl.col(rows) < min_group_rows).iter_rows(named=True)}
    if len(gated) < 2:
        return {"difference": 0.0, "interval": [0.0, 0.0], "groups": [], "verdict": INCONCLUSIVE if opened else PASS,
                "open_groups": _open(list(opened.values()), gated, hits, rows, limit, z, min_group_rows)}
    bounds = []
    for low, high in combinations(gated.iter_rows(named=True), 2):  # sorted by rate: high's is not below low's
        lower, upper = newcombe_interval(high[hits], high[rows], low[hits], low[rows], level)
        bounds.append((max(lower, 0.0), max(upper, -lower)))  # of |gap|
        if lower <= limit < upper:  # open: about the rows for this pair's interval to clear the limit from its gap
            smaller = min((high, low), key=lambda g: g[rows])
            gap = high["rate"] - low["rate"]
            settle = rows_to_clear(smaller[rows], gap, lower, upper, limit)
            opened.setdefault(smaller["group"], {**smaller, "settle": settle})
    interval = (max(b[0] for b in bounds), max(b[1] for b in bounds))
    outcome = worst([verdict(*interval, limit)] + [INCONCLUSIVE] * bool(opened))
    low, high = gated.row(0, named=True), gated.row(-1, named=True)
    return {"difference": _round(high["rate"] - low["rate"]), "interval": [_round(interval[0]), _round(interval[1])],
            "groups": [high["group"], low["group"]], "verdict": outcome,
            "open_groups": _open(list(opened.values()), gated, hits, rows, limit, z, min_group_rows) if outcome == INCONCLUSIVE else []}


def _open(groups: list[dict], gated: pl.DataFrame, hits: str, rows: str, limit: float, z: float, min_group_rows: int) -> list[dict]:
    """Each open group's rows and about how many would settle it: for a gated pair whose interval
    straddles the limit, enough to clear the limit from the pair's gap (None: the gap sits on the
    limit); for a group too small to gate, enough to resolve a gap of the limit's size against the
    largest group."""
    if gated.is_empty():
        return [{"group": g["group"], "rows": g[rows], "rows_needed": min_group_rows} for g in groups]
    largest = gated.sort(rows).row(-1, named=True)
    other = (largest[hits] + 1) / (largest[rows] + 2)
    out = []
    for g in sorted(groups, key=lambda g: g[rows]):
        own = (g[hits] + 1) / (g[rows] + 2)
        needed = (g["settle"] if "settle" in g
                  else max(rows_to_resolve(own * (1 - own), limit, z, other * (1 - other), largest[rows]), min_group_rows))
        out.append({"group": g["group"], "rows": g[rows], "rows_needed": needed, "against": largest["group"]})
    return out


def _reason(outcome: str, name: str, gap: dict, limit: float) -> str:
    if outcome == INCONCLUSIVE:
        return (f"cannot tell whether every {name} gap is within {limit}: " + "; ".join(
            f"group {g['group']} has {g['rows']:,} rows" + (f"; about {g['rows_needed']:,} would settle it against {limit}"
                                                              if g["rows_needed"] else ", and its gap sits on the limit")
            for g in gap["open_groups"]))
    low, high = gap["interval"]
    return f"largest {name} gap {gap['difference']} ({' vs '.join(gap['groups']) or 'no pair'}) [{low}, {high}]: {outcome}"


def fairness_conclusive_gate(fairness: list[GateResult]) -> GateResult:
    """A warning: the test rows settled every fairness comparison, or which groups left one open and
    how many rows would settle it. It never blocks nor holds back promotion."""
    verdicts = [g.metadata["verdict"] for g in fairness]
    opened = [{"gate": g.name, **o} for g in fairness
              for o in g.metadata.get("open_groups") or [o for rate in ("true_positive_rate", "false_positive_rate")
                                                         for o in g.metadata.get(rate, {}).get("open_groups", [])]]
    return GateResult("fairness_conclusive", INCONCLUSIVE not in verdicts,
                      {"verdict": worst(verdicts) if verdicts else PASS, "open": opened[:20],
                       "reason": "; ".join(g.metadata["reason"] for g in fairness if g.metadata["verdict"] == INCONCLUSIVE)},
                      blocking=False)


def fairness_gates(pred: np.ndarray, y_true: np.ndarray, groups: dict[str, np.ndarray], max_dp_difference: float = MAX_DP_DIFFERENCE,
                   max_eo_difference: float = MAX_EO_DIFFERENCE, threshold: float = 0.5, confidence_level: float = 0.95,
                   min_group_rows: int = MIN_GROUP_ROWS, inconclusive: Inconclusive = DEFAULT_INCONCLUSIVE) -> list[GateResult]:
    """Per protected attribute: "demographic_parity_<attr>" and "equalized_odds_<attr>" (see module docstring).

    Scores and labels are binarized at `threshold`. Demographic parity compares selection rates;
    equalized odds compares true- and false-positive rates, its verdict the worse of the two. Every
    pair of every attribute and rate is one of the comparisons the intervals are shared among.
    Point values are fairlearn's between-groups differences over the gated groups (what
    demographic_parity_difference and equalized_odds_difference return), from one MetricFrame per
    attribute.
    """
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    selected = np.asarray(pred) > threshold
    positive = np.asarray(y_true) > threshold
    tables = {}
    for attribute, values in groups.items():
        values = np.asarray(values).astype(str)
        frame = pl.DataFrame({"group": values, "selected": selected, "positive": positive})
        tables[attribute] = (values, frame.group_by("group").agg(
            pl.len().alias("rows"), pl.col("selected").sum().alias("selected_rows"),
            pl.col("positive").sum().alias("positives"), (pl.col("selected") & pl.col("positive")).sum().alias("true_positives"),
            (~pl.col("positive")).sum().alias("negatives"), (pl.col("selected") & ~pl.col("positive")).sum().alias("false_positives"),
        ).sort("group"))
    comparisons = sum(_pairs(table, rows, min_group_rows) for _, table in tables.values() for _, rows in RATES.values())
    level, z = per_comparison_level(confidence_level, comparisons), critical_value(confidence_level, comparisons)
    results = []
    for attribute, (values, table) in tables.items():
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
        limits = {"selection_rate": max_dp_difference, "true_positive_rate": max_eo_difference, "false_positive_rate": max_eo_difference}
        gap = {rate: _rate_gap(table, hits, rows, limits[rate], level, z, min_group_rows) for rate, (hits, rows) in RATES.items()}
        common = {"attribute": attribute, "threshold": threshold, "confidence_level": confidence_level, "comparisons": comparisons,
                  "per_comparison_level": round(level, 6), "min_group_rows": min_group_rows, "inconclusive": inconclusive,
                  "by_group": group_table}
        dp = gap["selection_rate"]
        results.append(GateResult(f"demographic_parity_{attribute}", passes(dp["verdict"], inconclusive), {
            **common, "verdict": dp["verdict"], "difference": _round(dp_point), "interval": dp["interval"], "between": dp["groups"],
            "max_difference": max_dp_difference, "open_groups": dp["open_groups"],
            "reason": _reason(dp["verdict"], "selection rate", dp, max_dp_difference),
        }))
        eo = worst([gap["true_positive_rate"]["verdict"], gap["false_positive_rate"]["verdict"]])
        results.append(GateResult(f"equalized_odds_{attribute}", passes(eo, inconclusive), {
            **common, "verdict": eo, "difference": _round(eo_point), "max_difference": max_eo_difference,
            **{rate: {key: gap[rate][key] for key in ("difference", "interval", "groups", "verdict", "open_groups")}
               for rate in ("true_positive_rate", "false_positive_rate")},
            "reason": "; ".join(_reason(gap[rate]["verdict"], rate.replace("_", " "), gap[rate], max_eo_difference)
                                for rate in ("true_positive_rate", "false_positive_rate")),
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
            rows += [{"feature": name, "attribute": attribute, "group": str(group), "strength": float(max(a, 1 - a)),
                      "se": _auc_se(float(max(a, 1 - a)), size, len(values) - size)} for name, a in zip(names, auc)]
    return sorted(rows, key=lambda row: -row["strength"])


def _auc_se(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's standard error of an AUC from the two classes' sizes."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return math.sqrt(max(auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2), 0.0)
                     / (positives * negatives))


def proxy_gate(features: dict[str, np.ndarray] | pl.DataFrame, groups: dict[str, np.ndarray], max_strength: float = MAX_PROXY_AUC,
               top: int = 10, min_group_rows: int = MIN_GROUP_ROWS, confidence_level: float = CONFIDENCE_LEVEL,
               inconclusive: Inconclusive = DEFAULT_INCONCLUSIVE) -> GateResult:
    """No selected feature is a strong proxy of a protected group: each folded one-vs-rest AUC judged
    three ways against `max_strength` by its interval, held jointly over every feature and group
    (Bonferroni); flagged: confidently above, open: the interval straddles the limit."""
    strengths = proxy_strengths(features, groups, min_group_rows)
    z = critical_value(confidence_level, len(strengths))
    judged_pairs = []
    for row in strengths:
        low, high = max(row["strength"] - z * row["se"], 0.5), min(row["strength"] + z * row["se"], 1.0)
        judged_pairs.append({"feature": row["feature"], "attribute": row["attribute"], "group": row["group"],
                             "strength": _round(row["strength"]), "interval": [_round(low), _round(high)],
                             "verdict": verdict(low, high, max_strength)})
    outcome = worst([p["verdict"] for p in judged_pairs])
    flagged = [p for p in judged_pairs if p["verdict"] == FAIL]
    opened = [p for p in judged_pairs if p["verdict"] == INCONCLUSIVE]
    reason = ("; ".join(f"{p['feature']} separates {p['attribute']} {p['group']} at AUC {p['strength']} "
                        f"[{p['interval'][0]}, {p['interval'][1]}]" for p in (flagged or opened))
              or f"every feature's strength is confidently within {max_strength}")
    return GateResult("no_proxy_features", passes(outcome, inconclusive), {
        "verdict": outcome, "reason": reason, "max_strength": max_strength, "measure": "one-vs-rest ROC AUC, folded",
        "comparisons": len(strengths), "confidence_level": confidence_level, "inconclusive": inconclusive,
        "flagged": flagged, "open": opened, "top_pairs": judged_pairs[:top],
    })


def calibration_gate(y_true: np.ndarray, pred: np.ndarray, confidence: np.ndarray, tolerance: float = CALIBRATION_TOLERANCE,
                     confidence_level: float = CONFIDENCE_LEVEL, inconclusive: Inconclusive = DEFAULT_INCONCLUSIVE) -> GateResult:
    """Mean confidence is the observed tier accuracy within `tolerance`: |observed - mean confidence|
    judged by the observed accuracy's Wilson interval (module docstring)."""
    from platform_assets.engagement.logic.model import tier_accuracy

    measured = tier_accuracy(y_true, pred, confidence)
    figure = proportion_within(measured["hits"], measured["rows"], measured["mean_confidence"], tolerance, inconclusive,
                               confidence_level)
    return GateResult("confidence_calibrated", passes(figure["verdict"], inconclusive), {
        "verdict": figure["verdict"], "rows": measured["rows"], "mean_confidence": _round(measured["mean_confidence"]),
        "observed_tier_accuracy": _round(measured["observed"]), "observed_interval": figure["share_interval"],
        "tolerance": tolerance, "figures": {"tier accuracy - mean confidence": figure}, "inconclusive": inconclusive,
        "by_decile": measured["by_decile"],
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


def champion_gate(y_true: np.ndarray, candidate: np.ndarray, champion: np.ndarray | None, tolerance: float = CHAMPION_TOLERANCE,
                  inconclusive: Inconclusive = DEFAULT_INCONCLUSIVE) -> GateResult:
    """The candidate's test R² is at most `tolerance` below the serving champion's on the same rows,
    judged by the paired interval of the difference (module docstring); passes with no champion."""
    y = np.asarray(y_true, dtype=np.float64)
    variance = float(np.mean((y - y.mean()) ** 2))
    r2 = 1 - float(np.mean((y - candidate) ** 2)) / variance
    if champion is None:
        return GateResult("not_worse_than_champion", True, {"verdict": "no champion yet", "candidate_r2": _round(r2),
                                                             "champion_r2": None, "tolerance": tolerance}, blocking=False)
    loss, low, high = mean_interval(((y - candidate) ** 2 - (y - champion) ** 2) / variance, CONFIDENCE_LEVEL)
    figure = judged(loss, low, high, tolerance, len(y), inconclusive)
    return GateResult("not_worse_than_champion", passes(figure["verdict"], inconclusive), {
        "verdict": figure["verdict"], "candidate_r2": _round(r2), "champion_r2": _round(r2 + loss), "tolerance": tolerance,
        "figures": {"R² lost against the champion": figure}, "inconclusive": inconclusive,
    }, blocking=False)


def judged_figures(gates: list[GateResult]) -> dict[str, dict]:
    """Every figure the judged gates carry, by label (for gates_conclusive and the summary)."""
    return {label: figure for g in gates for label, figure in g.metadata.get("figures", {}).items()}


def gates_conclusive(gates: list[GateResult]) -> GateResult:
    """The warning naming each judged figure the test rows left open (never blocks nor holds back promotion)."""
    return conclusive_gate("gates_conclusive", judged_figures(gates))
