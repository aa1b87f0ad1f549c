"""One training run of the readmission job, as the model asset calls it: the three windows from
gold, every configured algorithm tuned on train, evaluated on test and OOT (against the true
probabilities when the world's truth is there), registered with the seed's metadata, and the
champions promoted on test AUC among the models that passed their fairness gate (overall: the
config's champion rule on the test rows)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl

from platform_assets.readmission.logic import quality
from platform_assets.readmission.logic.artifacts import OVERALL_SLOT, load_registered, promote_champions, register_models
from platform_assets.readmission.logic.evaluation import calibration_png, evaluate_models, model_card
from platform_assets.readmission.logic.model_config import ModelConfig
from platform_assets.readmission.logic.monitoring import training_reference
from platform_assets.readmission.logic.preprocessing import load_windows
from platform_assets.readmission.logic.schema import JOB, LABEL, TRUE_PROBABILITY
from platform_assets.readmission.logic.training import train_all
from platform_core.periods import month_label
from platform_core.progress import Log
from platform_core.registry import ModelRef, ModelRegistry, NoChampionError
from platform_core.reports import Markdown
from platform_core.storage import DataLayout, atomic_dir
from platform_core.verdicts import INCONCLUSIVE


@dataclass
class ModelRun:
    label: str
    samples: dict[str, int]
    training: dict  # leakage proof, per-algorithm tuning figures
    evaluation: dict  # metrics, calibration, fairness rows, gates, best achievable AUC
    versions: dict[str, str]  # algorithm -> registered version
    champions: dict  # per_algorithm -> version or None, overall -> version or None, overall_comparison -> rows, previous
    quality: dict  # the overall champion's judged figures on OOT: calibration, auc_gap, auc_loss_against_previous
    card: Markdown
    report_dir: str
    seconds: float


def truth_of(layout: DataLayout, months: list[str]) -> pl.DataFrame | None:
    """The synthetic world's true probabilities for these months (None when any month has none)."""
    files = [layout.truth(JOB, m) / "truth.parquet" for m in months]
    if not all(f.exists() for f in files):
        return None
    return pl.read_parquet([str(f) for f in files]).select("encounter_id", TRUE_PROBABILITY)


def train_and_register(layout: DataLayout, registry: ModelRegistry, config: ModelConfig, label: str,
                       n_jobs: int = 2, log: Log | None = None) -> ModelRun:
    """`log` (a callable taking a line) hears the tuning's progress (train_all)."""
    start = time.perf_counter()
    frames, counts = load_windows(layout, config)
    train = frames["train"]
    evaluated = {name: frame for name, frame in frames.items() if name != "train"}
    trained, training = train_all(train, config, evaluated, n_jobs=n_jobs, log=log)
    truth = truth_of(layout, [m for name, w in config.windows.items() if name != "train" for m in w.months()])
    evaluation = evaluate_models({a: t.model for a, t in trained.items()}, evaluated, config, truth)
    samples = {name: len(frame) for name, frame in frames.items()}
    references = {a: training_reference(t.model, train) for a, t in trained.items()}
    refs = register_models(registry, JOB, label, trained, evaluation, config, samples,
                           dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), references)

    def model_of(ref: ModelRef):
        return trained[ref.model].model if refs.get(ref.model) == ref else load_registered(registry, ref, n_jobs)

    previous = _overall_champion(registry)
    champions = promote_champions(registry, JOB, refs, evaluation["gates"],
                                  lambda ref: model_of(ref).predict_proba(frames["test"]), frames["test"][LABEL].to_numpy(), config)
    overall = champions["overall"]
    oot_figures = champion_quality(frames["oot"], overall, previous, config, truth,
                                   lambda ref: model_of(ref).predict_proba(frames["oot"])) if overall else {}
    card = model_card(evaluation, training, overall and overall.model, champions["overall_comparison"], config, label,
                      oot_figures)
    target = layout.table(JOB, "model_reports", label)
    with atomic_dir(target) as tmp:
        calibration_png(evaluation["calibration"], tmp / "calibration.png")
        (tmp / "model_card.md").write_text(card + "\n")
    return ModelRun(label, samples, {**training, "counts": counts}, evaluation, {a: str(r) for a, r in refs.items()},
                    {"per_algorithm": {a: r and str(r) for a, r in champions["per_algorithm"].items()},
                     "overall": overall and str(overall), "overall_comparison": champions["overall_comparison"],
                     "previous": previous and str(previous)},
                    oot_figures, card, str(target), round(time.perf_counter() - start, 2))


def _overall_champion(registry: ModelRegistry) -> ModelRef | None:
    try:
        (ref,) = registry.champion(JOB, OVERALL_SLOT).values()
        return ref
    except NoChampionError:
        return None


def champion_quality(oot: pl.DataFrame, champion: ModelRef, previous: ModelRef | None, config: ModelConfig,
                     truth: pl.DataFrame | None, oot_probability: Callable[[ModelRef], np.ndarray]) -> dict[str, dict]:
    """The overall champion's judged figures on the OOT window (logic/quality.py): calibration; its
    AUC gap to the true probabilities when the world's truth is there; its AUC loss against the
    champion it replaced, scored on the same rows, when there was one."""
    q = config.quality
    y, probability = oot[LABEL].to_numpy().astype(np.int8), oot_probability(champion)
    true_p = None
    if truth is not None:
        joined = oot.select("encounter_id").join(truth, on="encounter_id", how="left")[TRUE_PROBABILITY]
        true_p = joined.to_numpy() if joined.null_count() == 0 else None
    figures = {"calibration": quality.calibration(y, probability, q.calibration_tolerance, q.confidence_level,
                                                  q.inconclusive, true_p)}
    if true_p is not None:
        figures["auc_gap"] = quality.auc_gap(y, probability, true_p, q.max_auc_gap, q.confidence_level, q.inconclusive)
    if previous is not None and previous != champion:
        figures["auc_loss_against_previous"] = {
            **quality.auc_loss(y, probability, oot_probability(previous), q.champion_tolerance, q.confidence_level,
                               q.inconclusive), "previous": str(previous)}
    return figures


def run_label(config: ModelConfig) -> str:
    """Registry label of a training run: the last month it saw (the OOT window's end)."""
    last = max(w.end for _, w in config.windows.items())
    return month_label(dt.date(last.year, last.month, 1))


def inconclusive_warnings(run: ModelRun, config: ModelConfig) -> list[str]:
    """A line per inconclusive verdict that did not block: each algorithm's equal-opportunity gate,
    and each contender of the champion rule that qualified without being shown not worse."""
    lines = [f"equal opportunity of {algorithm}: {gate.metadata['reason']}"
             for algorithm, gate in run.evaluation["gates"].items() if gate.metadata["verdict"] == INCONCLUSIVE]
    lines += [f"champion rule: the test window cannot tell whether {c['algorithm']} is worse than the best by more than "
              f"{config.champion.margin} ({c['minus_best']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}]); it qualifies "
              f"(champion.inconclusive: {config.champion.inconclusive})"
              for c in run.champions["overall_comparison"] if c["verdict"] == INCONCLUSIVE and c["qualifies"]]
    return lines
