"""The overall champion judged on the OOT window, the one window that chose nothing (the search
ran on train, thresholds on out-of-fold train predictions, champions on test). Each figure is
judged three ways by its interval (platform_core/verdicts.py): pass, fail, or inconclusive with the
rows that would settle it.

- `calibration`: in each decile of the champion's probabilities, the observed readmission rate
  against the mean predicted, |observed - predicted| within `calibration_tolerance`; each decile's
  Wilson interval is held jointly over the ten (Bonferroni), so a calibrated model does not fail
  by chance in one of them. Against truth: the deciles' mean true probability beside it.
- `auc_gap`: the best achievable AUC (the world's true probabilities, on the same rows) minus the
  champion's, paired DeLong interval, within `max_auc_gap`.
- `not_worse_than_champion`: the champion it replaces, scored on the same OOT rows: its AUC minus
  the new one's (paired DeLong), within `champion_tolerance`.
"""

from __future__ import annotations

import numpy as np

from platform_core.gates import GateResult
from platform_core.metrics import paired_auc_difference
from platform_core.reports import markdown_table
from platform_core.verdicts import (FAIL, Inconclusive, conclusive_gate, judged, passes, per_comparison_level,
                                    proportion_within, shown, worst)

DECILES = 10
LABELS = {"calibration": "calibration (worst OOT decile)", "auc_gap": "best achievable AUC - champion's",
          "auc_loss_against_previous": "previous champion's AUC - champion's"}


def calibration(y: np.ndarray, probability: np.ndarray, tolerance: float, confidence_level: float,
                inconclusive: Inconclusive, true_probability: np.ndarray | None = None) -> dict:
    """The worst decile's judged calibration (`judged`'s dict plus `decile`), and every decile's
    figures under `deciles`."""
    y, probability = np.asarray(y).astype(np.int64), np.asarray(probability, dtype=np.float64)
    level = per_comparison_level(confidence_level, DECILES)
    deciles = []
    for i, part in enumerate(np.array_split(np.argsort(probability, kind="stable"), DECILES)):
        figure = proportion_within(int(y[part].sum()), len(part), float(probability[part].mean()), tolerance, inconclusive,
                                   level)
        if true_probability is not None:
            figure["true_rate"] = round(float(np.asarray(true_probability)[part].mean()), 4)
        deciles.append({"decile": i + 1, **figure})
    outcome = worst([d["verdict"] for d in deciles])
    # the decile behind the verdict: the one surest to fail, else the one least sure to pass
    deciding = max((d for d in deciles if d["verdict"] == outcome), key=lambda d: d["interval"][0 if outcome == FAIL else 1])
    table = [{"decile": d["decile"], "rows": d["rows"], "mean_predicted": d["target"], "observed": d["share"],
              "observed_interval": d["share_interval"], **({"true_rate": d["true_rate"]} if "true_rate" in d else {}),
              "verdict": d["verdict"]} for d in deciles]
    return {**deciding, "verdict": outcome, "deciles": table}


def auc_gap(y: np.ndarray, probability: np.ndarray, true_probability: np.ndarray, limit: float, confidence_level: float,
            inconclusive: Inconclusive) -> dict:
    """AUC(true probabilities) - AUC(champion) on the same rows, judged against `limit`."""
    d = paired_auc_difference(y, probability, true_probability, confidence_level)
    return judged(d["difference"], d["low"], d["high"], limit, len(y), inconclusive)


def auc_loss(y: np.ndarray, candidate: np.ndarray, champion: np.ndarray, tolerance: float, confidence_level: float,
             inconclusive: Inconclusive) -> dict:
    """AUC(champion) - AUC(candidate) on the same rows, judged against `tolerance`."""
    d = paired_auc_difference(y, candidate, champion, confidence_level)
    return judged(d["difference"], d["low"], d["high"], tolerance, len(y), inconclusive)


def quality_gates(figures: dict[str, dict], inconclusive: Inconclusive, champion_oot_auc: float | None) -> list[GateResult]:
    """The champion's judged OOT figures as warning checks (a figure that cannot be judged passes,
    saying why); `gates_conclusive` names every open figure. They warn rather than block: the
    world's 2008 drift leaves a train-window champion overconfident on OOT, and the job publishes
    its champion's probabilities as the seed did (README: what the checks say, and recalibration)."""
    def gate(name: str, figure: str, absent: str, **extra) -> GateResult:
        j = figures.get(figure)
        if j is None:
            return GateResult(name, True, {"verdict": absent}, blocking=False)
        return GateResult(name, passes(j["verdict"], inconclusive),
                          {**{k: v for k, v in j.items() if k != "deciles"}, "shown": shown(j), **extra}, blocking=False)

    return [
        gate("champion_calibrated", "calibration", "no champion",
             deciles=markdown_table(figures.get("calibration", {}).get("deciles", []))),
        gate("champion_near_best_auc", "auc_gap", "no true probabilities for the OOT rows", champion_oot_auc=champion_oot_auc),
        gate("not_worse_than_champion", "auc_loss_against_previous", "no champion replaced"),
        conclusive_gate("gates_conclusive", {LABELS[k]: j for k, j in figures.items()}),
    ]


def quality_metadata(figures: dict[str, dict]) -> dict:
    """The figures as the model asset's metadata: the summary prints them with `judged_lines`."""
    return {"oot_quality": {LABELS[k]: {n: v for n, v in j.items() if n != "deciles"} for k, j in figures.items()},
            "oot_calibration": figures["calibration"]["deciles"] if figures else []}
