"""Evaluation of every algorithm on the test and OOT windows: metrics at the decision threshold,
calibration, the gap to the best achievable AUC, and fairness with a gate judged statistically.

The equal-opportunity gate compares recall (true-positive rate) between groups of each protected
attribute. For every pair of groups the gap gets an Agresti-Caffo interval (each group's
proportion and standard error computed with one added success and one added failure, which keeps
the interval honest near 0 and 1), judged three ways (platform_core/verdicts.py) against
`max_equal_opportunity_difference`: pass when the interval lies entirely within the limit, fail
when entirely beyond, inconclusive when it straddles it. The gate compares every pair of every
attribute at once, so each interval is drawn at `confidence_level` shared among those pairs
(Bonferroni): clean data fail no more often than 1 - `confidence_level` whatever the number of
groups, and the most extreme pair is judged fairly. A pair with a group of fewer than
`min_group_positives` positives (where the approximation is rough) is inconclusive at best, as is
an attribute with a group without positives. An inconclusive verdict names each group that
cannot be told apart, its positives, and about how many positives would resolve a gap of the
limit's size; it warns, or blocks when `fairness.inconclusive` is `block`.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import polars as pl

from platform_assets.readmission.logic.model_config import ModelConfig
from platform_assets.readmission.logic.schema import LABEL, PROTECTED, TRUE_PROBABILITY
from platform_core.gates import GateResult
from platform_core.reports import Markdown, markdown_table
from platform_core.storage import Location, atomic_file
from platform_core.verdicts import (FAIL, INCONCLUSIVE, Inconclusive, critical_value, passes, rows_to_resolve,
                                     rows_to_clear, verdict, worst)

METRICS = ("accuracy", "precision", "recall", "f1", "auc_roc")


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), digits)


def classification_metrics(y: np.ndarray, probability: np.ndarray, threshold: float) -> dict:
    """Accuracy, precision, recall, F1 at `threshold`; AUC-ROC and Brier of the probabilities."""
    from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score

    y = np.asarray(y).astype(np.int8)
    predicted = (np.asarray(probability) >= threshold).astype(np.int8)
    both_classes = len(np.unique(y)) == 2
    return {
        "rows": len(y), "positives": int(y.sum()), "threshold": _r(threshold),
        "accuracy": _r(accuracy_score(y, predicted)), "precision": _r(precision_score(y, predicted, zero_division=0)),
        "recall": _r(recall_score(y, predicted, zero_division=0)), "f1": _r(f1_score(y, predicted, zero_division=0)),
        "auc_roc": _r(roc_auc_score(y, probability)) if both_classes else None,
        "brier": _r(brier_score_loss(y, probability)),
    }


def best_achievable_auc(y_true: np.ndarray, true_probability: np.ndarray) -> float:
    """The AUC of the true probabilities on these rows: no model can beat it in expectation."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y_true).astype(np.int8), true_probability))


def calibration_data(y: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict]:
    """Mean predicted probability against the observed rate, per quantile bin of the predictions."""
    order = np.argsort(probability, kind="stable")
    return [{"bin": i + 1, "rows": len(part), "mean_predicted": _r(probability[part].mean()), "observed": _r(y[part].mean())}
            for i, part in enumerate(np.array_split(order, bins)) if len(part)]


def calibration_png(curves: dict[str, dict[str, list[dict]]], target: Location) -> None:
    """One panel per window, one line per algorithm, the diagonal for reference (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = sorted({w for per_window in curves.values() for w in per_window}, key=["test", "oot"].index)
    fig, axes = plt.subplots(1, len(windows), figsize=(5 * len(windows), 4), dpi=90, squeeze=False)
    for ax, window in zip(axes[0], windows):
        top = max(r["mean_predicted"] for c in curves.values() for r in c[window]) * 1.1
        ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfectly calibrated")
        for algorithm, per_window in curves.items():
            rows = per_window[window]
            ax.plot([r["mean_predicted"] for r in rows], [r["observed"] for r in rows], marker="o", label=algorithm)
        ax.set_title(f"calibration, {window} window")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed readmission rate")
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_file(target) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def group_rates(y: np.ndarray, predicted: np.ndarray, groups: dict[str, np.ndarray]) -> list[dict]:
    """Per attribute and group: rows, positives, recall and false-positive rate with their standard errors."""
    y, predicted = np.asarray(y).astype(bool), np.asarray(predicted).astype(bool)
    out = []
    for attribute, values in groups.items():
        labels = np.where(pl.Series(values).is_null().to_numpy(), "unknown", np.asarray(values, dtype=object).astype(str))
        for group in sorted(set(labels.tolist())):
            member = labels == group
            positives, negatives = int((member & y).sum()), int((member & ~y).sum())
            hits, false_alarms = int((member & y & predicted).sum()), int((member & ~y & predicted).sum())
            recall = hits / positives if positives else None
            fpr = false_alarms / negatives if negatives else None
            out.append({
                "attribute": attribute, "group": group, "rows": int(member.sum()), "positives": positives,
                "true_positives": hits, "negatives": negatives, "false_positives": false_alarms,
                "recall": _r(recall), "recall_se": _r(math.sqrt(recall * (1 - recall) / positives)) if positives else None,
                "fpr": _r(fpr), "fpr_se": _r(math.sqrt(fpr * (1 - fpr) / negatives)) if negatives else None,
            })
    return out


def _agresti_caffo(hits_a: int, n_a: int, hits_b: int, n_b: int, z: float) -> tuple[float, float]:
    p_a, p_b = (hits_a + 1) / (n_a + 2), (hits_b + 1) / (n_b + 2)
    half = z * math.sqrt(p_a * (1 - p_a) / (n_a + 2) + p_b * (1 - p_b) / (n_b + 2))
    return max(p_a - p_b - half, -1.0), min(p_a - p_b + half, 1.0)  # a difference of proportions lies in [-1, 1]


def _adjusted(hits: int, n: int) -> float:
    return (hits + 1) / (n + 2)


def _positives_needed(recall: float, other_recall: float, other_positives: int, limit: float, z: float) -> int:
    """About how many positives a group needs for its recall gap against another group to be told
    apart from a gap of the limit's size (platform_core.verdicts.rows_to_resolve)."""
    return rows_to_resolve(recall * (1 - recall), limit, z, other_recall * (1 - other_recall), other_positives)


def _attribute_verdict(attribute: str, groups: list[dict], limit: float, z: float, min_group_positives: int) -> dict:
    """One attribute's pairs judged, the pair that decides, and the groups that leave it open."""
    measured = [g for g in groups if g["positives"]]
    pairs = []
    for a, b in combinations(measured, 2):
        high, low = (a, b) if a["recall"] >= b["recall"] else (b, a)
        lower, upper = _agresti_caffo(high["true_positives"], high["positives"], low["true_positives"], low["positives"], z)
        too_small = min(high["positives"], low["positives"]) < min_group_positives
        gap = high["recall"] - low["recall"]
        outcome = INCONCLUSIVE if too_small else verdict(lower, max(upper, -lower), limit)
        pairs.append({"between": [high["group"], low["group"]], "difference": _r(gap),
                      "interval": [_r(lower), _r(upper)], "judged": not too_small, "verdict": outcome,
                      # open though both groups are big enough: the positives that would clear the limit from this gap
                      "settle": rows_to_clear(min(high["positives"], low["positives"]), gap, lower, upper, limit)
                      if outcome == INCONCLUSIVE and not too_small else None})
    outcome = worst([p["verdict"] for p in pairs] + [INCONCLUSIVE] * (len(measured) < len(groups) and len(groups) > 1))
    # shown: the pair behind the verdict, judged pairs first (a group of 2 positives has a gap of 1 and says nothing)
    key = (lambda p: (p["judged"], p["interval"][0] if outcome == FAIL else p["difference"]))
    deciding = max([p for p in pairs if p["verdict"] == outcome] or pairs, key=key, default=None)
    # open: every group under min_group_positives, with the positives it would need to resolve a gap of
    # the limit's size against the group with the most; and the smaller group of each judged pair that
    # straddles the limit, with the positives that would clear the limit from the pair's gap
    by_name = {g["group"]: g for g in groups}
    ranked = sorted(groups, key=lambda g: -g["positives"])
    pooled = _adjusted(sum(g["true_positives"] for g in groups), sum(g["positives"] for g in groups))
    needed: dict[str, tuple[int | None, str]] = {}
    for p in pairs:
        if p["verdict"] == INCONCLUSIVE and p["judged"]:
            smaller = min(p["between"], key=lambda name: by_name[name]["positives"])
            needed.setdefault(smaller, (p["settle"], next(n for n in p["between"] if n != smaller)))
    for group in groups:
        if group["positives"] < min_group_positives and len(groups) > 1:
            other = ranked[0] if group is not ranked[0] else ranked[1]
            own = _adjusted(group["true_positives"], group["positives"]) if group["positives"] else pooled
            needed[group["group"]] = (max(_positives_needed(own, _adjusted(other["true_positives"], other["positives"]),
                                                            max(other["positives"], 1), limit, z), min_group_positives),
                                      other["group"])
    open_groups = [{"attribute": attribute, "group": g["group"], "positives": g["positives"],
                    "positives_needed": needed[g["group"]][0], "against": needed[g["group"]][1]}
                   for g in ranked if g["group"] in needed]
    return {"attribute": attribute, "verdict": outcome, "groups_judged": sum(g["positives"] >= min_group_positives for g in groups),
            "groups_too_small": sum(g["positives"] < min_group_positives for g in groups),
            "largest_difference": max((p["difference"] for p in pairs), default=0.0),
            "between": deciding["between"] if deciding else [], "difference": deciding["difference"] if deciding else 0.0,
            "interval": deciding["interval"] if deciding else [0.0, 0.0], "open_groups": open_groups}


def open_groups_text(groups: list[dict]) -> str:
    """`race: Asian 4 -> ~190 (against Caucasian), Hispanic 212 -> ~1,460 (against AfricanAmerican); gender:
    Male 225 (its gap sits on the limit)`: per attribute, each open group's positives and about how
    many would settle it."""
    parts = []
    for attribute in dict.fromkeys(g["attribute"] for g in groups):
        parts.append(f"{attribute}: " + ", ".join(
            f"{g['group']} {g['positives']:,} " + (f"-> ~{g['positives_needed']:,} (against {g['against']})"
                                                  if g["positives_needed"] else f"(its gap against {g['against']} sits on the limit)")
            for g in groups if g["attribute"] == attribute))
    return "; ".join(parts)


def equal_opportunity_gate(rates: list[dict], max_difference: float, confidence_level: float = 0.95,
                           min_group_positives: int = 30, inconclusive: Inconclusive = "warn",
                           name: str = "equal_opportunity") -> GateResult:
    """Each attribute's recall gaps judged three ways by their intervals, held jointly over every
    pair compared (module docstring); the gate's verdict is the worst attribute's, shown with its
    deciding pair's gap and interval."""
    by_attribute = {attribute: [r for r in rates if r["attribute"] == attribute and r["group"] != "unknown"]
                    for attribute in dict.fromkeys(r["attribute"] for r in rates)}
    measured = [sum(g["positives"] > 0 for g in groups) for groups in by_attribute.values()]
    comparisons = sum(k * (k - 1) // 2 for k in measured)
    z = critical_value(confidence_level, comparisons)
    per_attribute = [_attribute_verdict(attribute, groups, max_difference, z, min_group_positives)
                     for attribute, groups in by_attribute.items()]
    outcome = worst([a["verdict"] for a in per_attribute])
    order = {FAIL: 2, INCONCLUSIVE: 1}
    deciding = max(per_attribute, key=lambda a: (order.get(a["verdict"], 0), a["difference"]),
                   default={"attribute": None, "between": [], "difference": 0.0, "interval": [0.0, 0.0]})
    open_groups = [g for a in per_attribute for g in a["open_groups"]]
    if outcome == FAIL:
        reason = "recall gap confidently above {} for {}".format(max_difference, ", ".join(
            f"{a['attribute']} ({' vs '.join(a['between'])}: {a['difference']} [{a['interval'][0]}, {a['interval'][1]}])"
            for a in per_attribute if a["verdict"] == FAIL))
    elif outcome == INCONCLUSIVE:
        reason = (f"cannot tell whether every recall gap is within {max_difference}; positives per open group -> about "
                  f"how many would settle it: {open_groups_text(open_groups)}")
    else:
        reason = f"every recall gap is confidently within {max_difference}"
    return GateResult(name, passes(outcome, inconclusive), {
        "verdict": outcome, "reason": reason, "gap": deciding["difference"], "interval": deciding["interval"],
        "attribute": deciding["attribute"], "between": deciding["between"],
        "pair": f"{deciding['attribute']}: {' vs '.join(deciding['between'])}" if deciding["between"] else "no pair of groups",
        "largest_difference": max((a["largest_difference"] for a in per_attribute), default=0.0),
        "max_difference_allowed": max_difference, "confidence_level": confidence_level, "comparisons": comparisons,
        "min_group_positives": min_group_positives, "inconclusive": inconclusive,
        "by_attribute": [{k: v for k, v in a.items() if k != "open_groups"} for a in per_attribute],
        "open_groups": open_groups,
    })


def evaluate_models(models: dict, frames: dict[str, pl.DataFrame], config: ModelConfig,
                    truth: pl.DataFrame | None = None) -> dict:
    """Every model on every window (`test`, `oot`): metrics, best achievable AUC and gap, calibration,
    per-group rates; the fairness gate on the test window. `models` maps algorithm -> ReadmissionModel;
    `truth` (encounter_id, true probability) is the synthetic world's, read here and never by training."""
    result: dict = {"metrics": [], "calibration": {}, "fairness": [], "gates": {}, "best_achievable_auc": {}}
    fairness = config.fairness
    for window, frame in frames.items():
        y = frame[LABEL].to_numpy().astype(np.int8)
        true_p = None
        if truth is not None:
            joined = frame.select("encounter_id").join(truth.select("encounter_id", TRUE_PROBABILITY), on="encounter_id", how="left")
            if joined[TRUE_PROBABILITY].null_count() == 0:
                true_p = joined[TRUE_PROBABILITY].to_numpy()
                result["best_achievable_auc"][window] = _r(best_achievable_auc(y, true_p))
        groups = {a: frame[a].to_numpy() for a in PROTECTED}
        for algorithm, model in models.items():
            probability = model.predict_proba(frame)
            metrics = classification_metrics(y, probability, model.threshold)
            if true_p is not None and metrics["auc_roc"] is not None:
                metrics["best_achievable_auc"] = result["best_achievable_auc"][window]
                metrics["auc_gap"] = _r(result["best_achievable_auc"][window] - metrics["auc_roc"])
            result["metrics"].append({"algorithm": algorithm, "window": window, **metrics})
            result["calibration"].setdefault(algorithm, {})[window] = calibration_data(y, probability)
            rates = group_rates(y, probability >= model.threshold, groups)
            result["fairness"] += [{"algorithm": algorithm, "window": window, **r} for r in rates]
            if window == "test":
                result["gates"][algorithm] = equal_opportunity_gate(
                    rates, fairness.max_equal_opportunity_difference, fairness.confidence_level, fairness.min_group_positives,
                    fairness.inconclusive)
    return result


def performance(evaluation: dict, algorithm: str) -> dict:
    """{test: {accuracy, precision, recall, f1, auc_roc}, oot: {...}}: the seed's metadata block."""
    return {row["window"]: {m: row[m] for m in METRICS} for row in evaluation["metrics"] if row["algorithm"] == algorithm}


def model_card(evaluation: dict, training: dict, champion: str | None, comparison: list[dict], config: ModelConfig,
               label: str, oot_quality: dict[str, dict] | None = None) -> Markdown:
    """What a person reads about a run's models: windows, metrics, gap to the best AUC, fairness."""
    windows = [{"window": n, "start": str(w.start), "end": str(w.end)} for n, w in config.windows.items()]
    metrics = [{k: v for k, v in row.items() if k != "threshold"} for row in evaluation["metrics"]]
    tuned = [{"algorithm": a, **{k: v for k, v in t.items() if k != "best_params"}, "best_params": t["best_params"]}
             for a, t in training["algorithms"].items()]
    gates = [{"algorithm": a, "verdict": g.metadata["verdict"], "passed": g.passed, "gap": g.metadata["gap"],
              "interval": g.metadata["interval"], "reason": g.metadata["reason"]} for a, g in evaluation["gates"].items()]
    champion_rates = [{k: v for k, v in r.items() if k not in ("algorithm",)} for r in evaluation["fairness"]
                      if r["algorithm"] == champion and r["window"] == "test"]
    return Markdown("\n\n".join([
        f"# readmission models, {label}",
        f"Champion (chosen on test AUC, never OOT; rule {config.champion.rule}): `{champion}`" if champion else "No champion chosen.",
        f"## Test AUC of the per-algorithm champions against the best (paired DeLong {config.champion.confidence_level:.0%} "
        "interval)", markdown_table(comparison),
        "## Windows", markdown_table(windows),
        "## Tuning on the train window (grouped by patient)", markdown_table(tuned),
        "## Test and OOT metrics at each model's decision threshold", markdown_table(metrics),
        f"Decision threshold policy: {config.threshold.policy}, chosen on out-of-fold training predictions.",
        "## The champion on the OOT window, which chose nothing (pass / fail / inconclusive by the interval)",
        markdown_table([{"figure": name, "value": j["value"], "interval": j["interval"], "limit": j["limit"], "rows": j["rows"],
                         "verdict": j["verdict"]} for name, j in (oot_quality or {}).items()]),
        "Calibration by decile of the champion's OOT probabilities (observed rate's interval held jointly over the "
        "deciles; true_rate: the world's mean true probability)",
        markdown_table((oot_quality or {}).get("calibration", {}).get("deciles", [])),
        "## Equal-opportunity gate (test window)", markdown_table(gates),
        "## Recall and false-positive rate by group, champion, test window", markdown_table(champion_rates),
        "Calibration: see calibration.png.",
    ]))
