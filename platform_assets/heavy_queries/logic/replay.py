"""Offline replay: the champion scores the last days of the log as it would have in production.

Each replayed day is featurized with the history of the days before it (the state a daily
refresh would have served) and scored through ONNX; zero-cost rules route their categories light, unparsed texts go heavy.
Per day: recall, FNR, precision and the routed share (queries sent to the heavy queue), with the
Wilson interval of the recall. Drift: PSI (platform_core.drift) of every numeric feature and of
the score against the training reference stored with the model, over the whole window and per day
for the score. The report is Markdown with PNG plots (matplotlib, Agg).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.featurizer import Featurizer
from platform_assets.heavy_queries.logic.history import states_by_day
from platform_assets.heavy_queries.logic.labels import wilson_interval
from platform_assets.heavy_queries.logic.serving import LoadedModel, score_batch
from platform_assets.heavy_queries.logic.threshold import confusion
from platform_core import drift
from platform_core.reports import markdown_table
from platform_core.storage import Location, atomic_dir

PSI_DRIFT = 0.2
SCORED_COLUMNS = ("query_id", "day", "create_time", "user", "source", "catalog", "schema", "query_type", "query",
                  "cpu_time_ms", "wall_time_ms", "peak_memory_bytes", "error_type", "heavy", "heavy_reason", "probability",
                  "heavy_predicted", "zero_cost_routed", "unparsed", "model_version")


def training_drift_reference(featurizer: Featurizer, X: np.ndarray, probabilities: np.ndarray) -> dict:
    """The reference replay compares with: numeric feature histograms and the score's, from training-day rows."""
    names = featurizer.feature_names[:featurizer.n_numeric]
    X = np.asarray(X)
    return {"features": {name: drift.reference_histogram(X[:, j]) for j, name in enumerate(names)},
            "prediction": drift.reference_histogram(np.asarray(probabilities))}


def replay(labelled: pl.DataFrame, model: LoadedModel,
           days: int = 14) -> tuple[pl.DataFrame, list[dict], dict, pl.DataFrame]:
    """(per-day table, drift rows, figures, scored rows: SCORED_COLUMNS) for the last `days` days of
    `labelled` (the filtered log with `heavy`, `day` and `zero_cost_category`; earlier days feed the history)."""
    last = labelled["day"].max()
    window = [last - timedelta(days=d) for d in range(days - 1, -1, -1)]
    replayed = labelled.filter(pl.col("day").is_in(window))
    scored = score_batch(replayed, model, states_by_day(labelled, window))
    reference = model.description["drift_reference"]
    featurizer = model.featurizer
    names = featurizer.feature_names[:featurizer.n_numeric]
    rows = []
    for (day,), part in scored.sort("day").group_by("day", maintain_order=True):
        figures = confusion(part["heavy"].to_numpy(), part["probability"].to_numpy(), model.threshold)
        low, high = wilson_interval(figures["tp"], figures["heavy"]) if figures["heavy"] else (None, None)
        model_scored = part.filter(pl.col("zero_cost_routed").is_null() & pl.col("unparsed").is_null())["probability"].to_numpy()
        rows.append({"day": day, "rows": figures["rows"], "heavy": figures["heavy"], "tp": figures["tp"], "fn": figures["fn"],
                     "fp": figures["fp"], "recall": figures["recall"], "recall_low": low, "recall_high": high,
                     "fnr": figures["fnr"], "precision": figures["precision"], "routed_share": figures["routed_share"],
                     "zero_cost_share": round(float(part["zero_cost_routed"].is_not_null().mean()), 5),
                     "unparsed": int(part["unparsed"].is_not_null().sum()),
                     "score_psi": drift.psi(reference["prediction"], model_scored)})
    daily = pl.DataFrame(rows)
    model_rows = scored.filter(pl.col("zero_cost_routed").is_null() & pl.col("unparsed").is_null())
    X = featurizer.featurize_frame(model_rows, states_by_day(labelled, model_rows["day"].unique().to_list()))
    drift_rows = drift.drift_report(reference, X[:, :featurizer.n_numeric], names, model_rows["probability"].to_numpy(),
                                    prediction_name="score")
    overall = confusion(scored["heavy"].to_numpy(), scored["probability"].to_numpy(), model.threshold)
    figures = {"days": len(daily), "first_day": window[0].isoformat(), "last_day": last.isoformat(),
               "model_version": model.model_version, "threshold": model.threshold,
               **{k: overall[k] for k in ("rows", "heavy", "tp", "fn", "fp", "recall", "fnr", "precision", "routed_share")},
               "unparsed_routed_heavy": int(scored["unparsed"].is_not_null().sum()),
               "min_daily_recall": daily["recall"].min(), "score_psi": next(r["psi"] for r in drift_rows if r["kind"] == "prediction"),
               "features_drifting": [r["name"] for r in drift_rows if r["kind"] == "feature" and r["psi"] > PSI_DRIFT]}
    return daily, drift_rows, figures, scored.select(SCORED_COLUMNS).sort("create_time", "query_id")


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
    """`scored.parquet` (every replayed query with its score and routing), `replay_daily.parquet`,
    `drift.parquet`, `report.md` and the plots, atomically; returns the figures."""
    with atomic_dir(target_dir) as tmp:
        scored.write_parquet(tmp / "scored.parquet")
        daily.write_parquet(tmp / "replay_daily.parquet")
        pl.DataFrame(drift_rows).write_parquet(tmp / "drift.parquet")
        plots = _plots(daily, drift_rows, tmp)
        lines = [f"# heavy_queries replay {figures['first_day']} .. {figures['last_day']}", "",
                 f"Model `{figures['model_version']}`, threshold {figures['threshold']:.6f}. Over the window: recall "
                 f"{figures['recall']}, FNR {figures['fnr']}, precision {figures['precision']}, routed share "
                 f"{figures['routed_share']}; score PSI {figures['score_psi']}.", "", "## Per day", "",
                 markdown_table([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                                 for r in daily.iter_rows(named=True)]), "",
                 f"## Drift (PSI > {PSI_DRIFT} is drift)", "", markdown_table(drift_rows[:20]), "",
                 *[f"![{name}]({name})" for name in plots]]
        (tmp / "report.md").write_text("\n".join(lines) + "\n")
    return figures
