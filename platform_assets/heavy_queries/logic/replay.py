"""Offline replay: the champion scores the last days of the log as it would have in production.

Each replayed day is featurized with the history of the days before it (the state a daily
refresh would have served) and scored through ONNX; zero-cost rules route their categories light, unparsed texts go heavy.
Per day: recall, FNR, precision and the routed share (queries sent to the heavy queue), with the
Wilson interval of the recall; the overall figures are judged only on days that neither the model
nor its threshold saw (the champion's test days and later), the others marked in_sample. Drift: PSI (platform_core.drift) of every numeric feature and of
the score against the training reference stored with the model, over the whole window and per day
for the score. The report is Markdown with PNG plots (matplotlib, Agg).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.featurizer import Featurizer
from platform_assets.heavy_queries.logic.history import HistoryState, states_by_day
from platform_assets.heavy_queries.logic.labels import wilson_interval
from platform_assets.heavy_queries.logic.serving import LoadedModel, score_with_features
from platform_assets.heavy_queries.logic.threshold import outcome
from platform_assets.heavy_queries.logic.scored_table import SCORED_COLUMNS
from platform_core import drift
from platform_core.reports import markdown_table
from platform_core.storage import Location, atomic_dir

PSI_DRIFT = 0.2


def training_drift_reference(featurizer: Featurizer, X: np.ndarray, probabilities: np.ndarray) -> dict:
    """The reference replay compares with: numeric feature histograms and the score's, from training-day rows."""
    names = featurizer.feature_names[:featurizer.n_numeric]
    X = np.asarray(X)
    return {"features": {name: drift.reference_histogram(X[:, j]) for j, name in enumerate(names)},
            "prediction": drift.reference_histogram(np.asarray(probabilities))}


class _Histograms:
    """Counts of values on reference histograms' bins (drift.bin_counts), added batch by batch: drift's PSI
    of a replay of any length without keeping its values."""

    def __init__(self, references: list[dict]):
        self.references = references
        self.counts = [np.zeros(len(r["edges"]) + 1) if len(r["edges"]) else np.zeros(0) for r in references]
        self.missing = np.zeros(len(references))
        self.rows = 0

    def add(self, X: np.ndarray) -> None:
        for j, reference in enumerate(self.references):
            counts, missing = drift.bin_counts(reference, X[:, j])
            self.counts[j] += counts
            self.missing[j] += missing
        self.rows += len(X)

    def psi(self, j: int) -> float:
        return drift.psi_from_counts(self.references[j], self.counts[j], self.missing[j], self.rows)


def replay_days(days: list[date], batches: Callable[[date], Iterable[pl.DataFrame]], states: dict[date, HistoryState],
                model: LoadedModel, write: Callable[[pl.DataFrame], None],
                unseen_from: date | None = None) -> tuple[pl.DataFrame, list[dict], dict]:
    """(per-day table, drift rows, figures) of the champion over `days`, each read as `batches(day)` (the
    filtered log with `heavy`, `day` and `zero_cost_category`, in time order) and featurized with `states[day]`;
    every scored batch (SCORED_COLUMNS) goes to `write` as it is made, so memory is a batch's. The overall
    recall, FNR, precision and routed share are judged on the days from `unseen_from` (those neither the
    model nor its threshold saw; every day when None); earlier days are listed with `in_sample` true."""
    reference = model.description["drift_reference"]
    featurizer = model.featurizer
    names = featurizer.feature_names[:featurizer.n_numeric]
    columns = [j for j, name in enumerate(names) if name in reference["features"]]
    features = _Histograms([reference["features"][names[j]] for j in columns])
    score = _Histograms([reference["prediction"]])
    rows, heavy_all, decided_all, unparsed_all = [], [], [], 0
    for day in days:
        heavy, decided, model_scored, zero_cost, unparsed = [], [], [], 0, 0
        for batch in batches(day):
            scored, X, by_model = score_with_features(batch, model, {day: states[day]})
            write(scored.select(SCORED_COLUMNS))
            p = scored["probability"].to_numpy()
            features.add(X[:, columns])
            score.add(p[by_model][:, None])
            heavy.append(scored["heavy"].to_numpy())
            decided.append(scored["heavy_predicted"].to_numpy())
            model_scored.append(p[by_model])
            zero_cost += int(scored["zero_cost_routed"].is_not_null().sum())
            unparsed += int(scored["unparsed"].is_not_null().sum())
        if not heavy or not sum(map(len, heavy)):
            continue
        heavy, decided = np.concatenate(heavy), np.concatenate(decided)
        figures = outcome(heavy, decided)  # each query decided at its own threshold (cold start or not)
        low, high = wilson_interval(figures["tp"], figures["heavy"]) if figures["heavy"] else (None, None)
        in_sample = unseen_from is not None and day < unseen_from
        rows.append({"day": day, "in_sample": in_sample, "rows": figures["rows"], "heavy": figures["heavy"], "tp": figures["tp"], "fn": figures["fn"],
                     "fp": figures["fp"], "recall": figures["recall"], "recall_low": low, "recall_high": high,
                     "fnr": figures["fnr"], "precision": figures["precision"], "routed_share": figures["routed_share"],
                     "zero_cost_share": round(zero_cost / len(heavy), 5), "unparsed": unparsed,
                     "score_psi": drift.psi(reference["prediction"], np.concatenate(model_scored))})
        if not in_sample:
            heavy_all.append(heavy)
            decided_all.append(decided)
        unparsed_all += unparsed
    daily = pl.DataFrame(rows)
    drift_rows = sorted([{"name": names[j], "kind": "feature", "psi": features.psi(i)} for i, j in enumerate(columns)]
                        + [{"name": "score", "kind": "prediction", "psi": score.psi(0)}], key=lambda r: -r["psi"])
    overall = outcome(np.concatenate(heavy_all or [np.zeros(0, bool)]), np.concatenate(decided_all or [np.zeros(0, bool)]))
    judged = daily.filter(~pl.col("in_sample")) if len(daily) else daily
    figures = {"days": len(daily), "first_day": days[0].isoformat(), "last_day": days[-1].isoformat(),
               "judged_days": [judged["day"].min().isoformat(), judged["day"].max().isoformat()] if len(judged) else None,
               "in_sample_days": daily.height - judged.height,
               "model_version": model.model_version, "threshold": model.threshold, "cold_threshold": model.cold_threshold,
               **{k: overall[k] for k in ("rows", "heavy", "tp", "fn", "fp", "recall", "fnr", "precision", "routed_share")},
               "unparsed_routed_heavy": unparsed_all,
               "min_daily_recall": judged["recall"].min() if len(judged) else None,
               "score_psi": next(r["psi"] for r in drift_rows if r["kind"] == "prediction"),
               "features_drifting": [r["name"] for r in drift_rows if r["kind"] == "feature" and r["psi"] > PSI_DRIFT]}
    return daily, drift_rows, figures


def replay(labelled: pl.DataFrame, model: LoadedModel,
           days: int = 14) -> tuple[pl.DataFrame, list[dict], dict, pl.DataFrame]:
    """(per-day table, drift rows, figures, scored rows: SCORED_COLUMNS) for the last `days` days of
    `labelled` in memory (the filtered log with `heavy`, `day` and `zero_cost_category`; earlier days feed
    the history)."""
    last = labelled["day"].max()
    window = [last - timedelta(days=d) for d in range(days - 1, -1, -1)]
    parts: list[pl.DataFrame] = []
    daily, drift_rows, figures = replay_days(
        window, lambda day: [labelled.filter(pl.col("day") == day).sort("create_time", "query_id")],
        states_by_day(labelled, window), model, parts.append)
    return daily, drift_rows, figures, pl.concat(parts)


def _plots(daily: pl.DataFrame, drift_rows: list[dict], directory) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = daily["day"].to_list()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    recall = np.array([np.nan if v is None else v for v in daily["recall"].to_list()], dtype=float)
    low = np.array([np.nan if v is None else v for v in daily["recall_low"].to_list()], dtype=float)
    ax.fill_between(days, low, 1.0, alpha=0.2, label="recall 95% interval")
    ax.plot(days, recall, marker="o", label="recall")
    ax.plot(days, daily["routed_share"].to_list(), marker="s", label="routed share")
    ax.axhline(0.98, color="red", linestyle="--", linewidth=1, label="recall goal 98%")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Replay: recall and share routed to the heavy queue, per day")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(directory / "recall_routed.png", dpi=90)
    plt.close(fig)
    top = drift_rows[:15]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh([r["name"] for r in top][::-1], [r["psi"] for r in top][::-1])
    ax.axvline(PSI_DRIFT, color="red", linestyle="--", linewidth=1)
    ax.set_title("PSI against training (largest 15)")
    fig.tight_layout()
    fig.savefig(directory / "psi.png", dpi=90)
    plt.close(fig)
    return ["recall_routed.png", "psi.png"]


def write_replay(target_dir: Location, daily: pl.DataFrame, drift_rows: list[dict], figures: dict,
                 scored: pl.DataFrame) -> dict:
    """`scored.parquet` (every replayed query with its score and routing) and `write_report`'s files,
    atomically; returns the figures."""
    with atomic_dir(target_dir) as tmp:
        scored.write_parquet(tmp / "scored.parquet")
        write_report(tmp, daily, drift_rows, figures)
    return figures


def write_report(directory, daily: pl.DataFrame, drift_rows: list[dict], figures: dict) -> None:
    """`replay_daily.parquet`, `drift.parquet`, `report.md` and the plots into `directory`."""
    daily.write_parquet(directory / "replay_daily.parquet")
    pl.DataFrame(drift_rows).write_parquet(directory / "drift.parquet")
    plots = _plots(daily, drift_rows, directory)
    lines = [f"# heavy_queries replay {figures['first_day']} .. {figures['last_day']}", "",
             f"Model `{figures['model_version']}`, threshold {figures['threshold']:.6f} (cold start "
             f"{figures['cold_threshold'] if figures['cold_threshold'] is not None else figures['threshold']:.6f}). "
             f"Judged on {figures['judged_days']} ({figures['in_sample_days']} earlier days are in sample: the model or "
             "its threshold saw them): recall "
             f"{figures['recall']}, FNR {figures['fnr']}, precision {figures['precision']}, routed share "
             f"{figures['routed_share']}; score PSI {figures['score_psi']}.", "", "## Per day", "",
             markdown_table([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                             for r in daily.iter_rows(named=True)]), "",
             f"## Drift (PSI > {PSI_DRIFT} is drift)", "", markdown_table(drift_rows[:20]), "",
             *[f"![{name}]({name})" for name in plots]]
    (directory / "report.md").write_text("\n".join(lines) + "\n")
