"""heavy_queries' stages as the assets call them, one function each, every one reading and
writing warehouse tables of one day (the last day of its 44-day window):

labelled_queries/<day>   one day's log labelled and filtered (labels.build_labelled)
query_window/<day>       the window's labelled rows deduplicated across days, with their split,
                         and the boundary sample of the training days; blocked when a day lost
                         too many rows to delivery defects (usable_rows)
query_features/<day>     the featurizer fitted on training days, the feature matrices of the
                         sample, validation and test rows (unparsed texts marked: left out of
                         the sample, served heavy on validation and test), and the parity report
heavy_query_model        the registry entry (ONNX, featurizer, XGBoost UBJ, threshold), promoted
                         only when every gate passed
query_replay/<day>       the champion over the window's last 14 days: every query scored, per-day
                         recall, FNR, routed share, PSI drift, report with plots; catalog views
Each stage is a checkpoint: re-executing a failed run from failure starts at the failed stage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import date, timedelta

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.config import HeavyThresholds, ModelConfig
from platform_core.contract import ContractError
from platform_core.gates import GateResult
from platform_core.registry import ModelRegistry, NoChampionError
from platform_core.storage import DataLayout, Location, atomic_dir, current

JOB = "heavy_queries"
WINDOW_DAYS = 44


def model_config(cpu_ms: int, peak_memory_bytes: int, **overrides) -> ModelConfig:
    return replace(ModelConfig(), thresholds=HeavyThresholds(cpu_ms=cpu_ms, peak_memory_bytes=peak_memory_bytes), **overrides)


def window_days(day: date, config: ModelConfig) -> list[date]:
    days = config.train_days + config.validation_days + config.test_days
    return [day - timedelta(days=d) for d in range(days - 1, -1, -1)]


def _read(layout: DataLayout, table: str, day: date, name: str) -> pl.DataFrame:
    return pl.read_parquet(str(current(layout.table(JOB, table, day.isoformat())) / name))


def catalog_stats(layout: DataLayout) -> dict[str, dict[str, int]]:
    """schema -> table -> rows: the query engine's table statistics, delivered beside the log (none:
    every table is unknown to the featurizer). A file that is not that shape is a ContractError."""
    path = layout.landing(JOB, "current", feed="catalog") / "catalog_stats.json"
    if not path.exists():
        return {}
    redeliver = "deliver the catalog statistics again (read-only to the platform) as JSON {schema: {table: rows}}"
    try:
        stats = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}: truncated or "
                            f"corrupted?); {redeliver}") from None
    except UnicodeDecodeError as exc:
        raise ContractError(f"{path}: not UTF-8 text (byte at offset {exc.start}); {redeliver}") from None
    if not isinstance(stats, dict):
        raise ContractError(f"{path}: expected an object of schemas, found {type(stats).__name__}; {redeliver}")
    for schema, tables in stats.items():
        if not isinstance(tables, dict):
            raise ContractError(f"{path}: schema {schema!r} holds {type(tables).__name__} {str(tables)[:40]!r}, not an "
                                f"object of tables; {redeliver}")
        for table, rows in tables.items():
            if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
                raise ContractError(f"{path}: {schema}.{table} has rows {rows!r}, not a whole number >= 0; {redeliver}")
    return stats


def _set_aside_by_day(layout: DataLayout, days: list[date], frames: list[pl.DataFrame]) -> pl.DataFrame:
    """day, rows_in and rows set aside per defect reason of each labelled day."""
    from platform_assets.heavy_queries.logic.labels import DEFECT_REASONS

    rows = []
    for d, kept in zip(days, frames):
        aside = _read(layout, "labelled_queries", d, "set_aside.parquet")["filter_reason"]
        counts = aside.value_counts()
        by_reason = dict(zip(counts["filter_reason"].to_list(), counts["count"].to_list()))
        rows.append({"day": d, "rows_in": len(kept) + len(aside), **{r: int(by_reason.get(r, 0)) for r in DEFECT_REASONS}})
    return pl.DataFrame(rows)


def build_window(layout: DataLayout, day: date, config: ModelConfig) -> tuple[dict, tuple[GateResult, GateResult]]:
    """The window's labelled days -> usable-rows verdict -> cross-day dedup -> splits -> zero-cost
    verdicts -> boundary sample; gates (zero_cost_categories, usable_rows)."""
    from platform_assets.heavy_queries.logic.labels import usable_rows_gate, zero_cost_gate
    from platform_assets.heavy_queries.logic.sampling import boundary_sample
    from platform_assets.heavy_queries.logic.splits import assign_splits

    days = window_days(day, config)
    missing = [d.isoformat() for d in days if not layout.table(JOB, "labelled_queries", d.isoformat()).exists()]
    if missing:
        raise FileNotFoundError(f"labelled_queries lacks {len(missing)} day(s) of the window ending {day}: "
                                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    frames = [_read(layout, "labelled_queries", d, "labelled.parquet") for d in days]
    usable = usable_rows_gate(_set_aside_by_day(layout, days, frames), config.max_defect_share)
    labelled = pl.concat(frames, how="vertical_relaxed").sort("create_time", "query_id")
    unique = labelled.unique("query_id", keep="first", maintain_order=True)
    split, split_figures = assign_splits(unique, config.train_days, config.validation_days, config.test_days, last_day=day)
    zero_cost = zero_cost_gate(split, config)
    routed = zero_cost.metadata["validated"]
    model_rows = split.filter(~pl.col("zero_cost_category").is_in(routed).fill_null(False))
    sample, sample_figures = boundary_sample(model_rows.filter(pl.col("split") == "train"), config.thresholds,
                                             config.sample_ratio, config.max_boost, config.min_multiplier, config.seed)
    with atomic_dir(layout.table(JOB, "query_window", day.isoformat())) as tmp:
        split.write_parquet(tmp / "window.parquet")
        sample.write_parquet(tmp / "sample.parquet")
        (tmp / "routed.json").write_text(json.dumps(routed))  # the validated zero-cost categories, judged once
    heavy = int(split["heavy"].sum())
    return {"rows_in": len(labelled), "rows_out": len(split), "cross_day_duplicates": len(labelled) - len(unique),
            "heavy": heavy, "heavy_share": round(heavy / max(len(split), 1), 4), "splits": split_figures,
            "sampling": sample_figures, "zero_cost_routed": routed}, (zero_cost, usable)


def _states(window: pl.DataFrame):
    from platform_assets.heavy_queries.logic.history import states_by_day

    return states_by_day(window, window["day"].unique().to_list())


def build_features(layout: DataLayout, day: date, config: ModelConfig) -> tuple[dict, list[GateResult]]:
    """Featurizer fitted on training days only; matrices of sample / validation / test; parity."""
    from platform_assets.heavy_queries.logic.featurizer import fit_featurizer, parity_gate, parity_report, vocabulary_gate

    window = _read(layout, "query_window", day, "window.parquet")
    sample = _read(layout, "query_window", day, "sample.parquet")
    routed = _routed(layout, day)
    featurizer = fit_featurizer(window, catalog_stats(layout), config.tfidf_terms, config.tfidf_min_df, routed)
    states = _states(window)
    model_rows = window.filter(~pl.col("zero_cost_category").is_in(routed).fill_null(False))
    parity = parity_report(featurizer, model_rows.filter(pl.col("split") == "test"), states)
    gates = [vocabulary_gate(featurizer, window), parity_gate(parity)]
    unparsed = {}
    with atomic_dir(layout.table(JOB, "query_features", day.isoformat())) as tmp:
        (tmp / "featurizer.json").write_text(featurizer.to_json())
        for name, rows in (("sample", sample), ("validation", model_rows.filter(pl.col("split") == "validation")),
                           ("test", model_rows.filter(pl.col("split") == "test"))):
            rows = rows.with_columns(featurizer.unparsed_reasons(rows["query"]))
            unparsed[name] = {str(r): n for r, n in rows.filter(pl.col("unparsed").is_not_null()).group_by("unparsed").len().iter_rows()}
            if name == "sample":  # served heavy whatever the model says: nothing to learn from
                rows = rows.filter(pl.col("unparsed").is_null())
            X = featurizer.featurize_frame(rows, states)
            np.save(tmp / f"{name}_X.npy", X)
            rows.select("query_id", "heavy", "zero_cost_category", "unparsed").write_parquet(tmp / f"{name}_rows.parquet")
    return {"features": len(featurizer.feature_names), "numeric_features": featurizer.n_numeric,
            "vocabulary": len(featurizer.vocabulary), "rows_in": len(sample), "parity": parity,
            "unparsed": unparsed, "unparsed_rows": sum(sum(v.values()) for v in unparsed.values())}, gates


def _routed(layout: DataLayout, day: date) -> list[str]:
    return json.loads((current(layout.table(JOB, "query_window", day.isoformat())) / "routed.json").read_text())


def _matrix(layout: DataLayout, day: date, name: str) -> tuple[np.ndarray, pl.DataFrame]:
    directory = current(layout.table(JOB, "query_features", day.isoformat()))
    return np.load(directory / f"{name}_X.npy"), pl.read_parquet(str(directory / f"{name}_rows.parquet"))


def train_and_register(layout: DataLayout, registry: ModelRegistry, day: date, config: ModelConfig) -> tuple[dict, list[GateResult]]:
    """CV + final model on the sample, threshold at the FN:FP cost on validation days, compliance on
    test days, ONNX export and parity; registered always, promoted only when every gate passed."""
    from platform_assets.heavy_queries.logic.featurizer import Featurizer
    from platform_assets.heavy_queries.logic.history import build_state
    from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME, export_onnx, model_files, onnx_parity_gate, promotable
    from platform_assets.heavy_queries.logic.replay import training_drift_reference
    from platform_assets.heavy_queries.logic.threshold import choose_threshold, compliance_gate
    from platform_assets.heavy_queries.logic.training import classification_metrics, train_model

    directory = current(layout.table(JOB, "query_features", day.isoformat()))
    featurizer = Featurizer.from_json((directory / "featurizer.json").read_text())
    X_sample, sample = _matrix(layout, day, "sample")
    X_valid, valid = _matrix(layout, day, "validation")
    X_test, test = _matrix(layout, day, "test")
    model = train_model(X_sample, sample["heavy"].to_numpy(), config)
    threshold = choose_threshold(valid["heavy"].to_numpy(), _served(valid, model.predict(X_valid)), config.cost_fn, config.cost_fp)
    p_test = _served(test, model.predict(X_test))
    window = _read(layout, "query_window", day, "window.parquet")
    # judged as served: queries a zero-cost rule routes light count with probability 0
    routed = window.filter((pl.col("split") == "test") & pl.col("zero_cost_category").is_in(_routed(layout, day)).fill_null(False))
    compliance = compliance_gate(np.concatenate([test["heavy"].to_numpy(), routed["heavy"].to_numpy()]),
                                 np.concatenate([p_test, np.zeros(len(routed))]), threshold["threshold"], config)
    onnx = export_onnx(model, X_test.shape[1])
    parity = onnx_parity_gate(onnx, model, X_test, threshold["threshold"], config.onnx_tolerance)
    featurizer.history = build_state(window, day + timedelta(days=1))
    reference = training_drift_reference(featurizer, X_sample, model.predict(X_sample))
    gates = [compliance, parity]
    verdict = promotable(gates)
    test_metrics = {**compliance.metadata, "auc": classification_metrics(test["heavy"].to_numpy(), p_test)["auc"]}
    ref = registry.register(JOB, MODEL_NAME, day.isoformat(),
                            model_files(model, featurizer, onnx, threshold, reference, {"config": asdict(config)}),
                            {"threshold": threshold["threshold"], "cv": model.cv, "test": test_metrics,
                             "compliance": compliance.metadata, "onnx_parity": parity.metadata, "gates": verdict["gates"]})
    promoted = bool(verdict["promote"]) and registry.promote(JOB, {MODEL_NAME: ref}, f"trained on the window ending {day}; "
                                                                                    "every gate passed")
    return {"version": str(ref), "promoted": promoted, "failed_gates": verdict["failed"], "rounds": model.rounds,
            "heavy_in_sample": int(sample["heavy"].sum()),
            "training_seconds": model.seconds, "cv": model.cv, "threshold": threshold, "test": test_metrics,
            "rows_in": len(sample)}, gates


def _served(rows: pl.DataFrame, probabilities: np.ndarray) -> np.ndarray:
    """Probabilities as serving gives them: 1 for an unparsed text (routed heavy without the model)."""
    return np.where(rows["unparsed"].is_not_null().to_numpy(), 1.0, probabilities)


def replay_window(layout: DataLayout, registry: ModelRegistry, day: date, config: ModelConfig) -> dict:
    """The champion over the window's last `replay_days` days."""
    from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME
    from platform_assets.heavy_queries.logic.replay import replay, write_replay
    from platform_assets.heavy_queries.logic.serving import load_model

    try:
        ref = registry.champion(JOB)[MODEL_NAME]
    except NoChampionError as exc:
        raise NoChampionError(f"{exc}: no heavy_queries model has passed every gate yet, so there is nothing to replay") from None
    window = _read(layout, "query_window", day, "window.parquet")
    daily, drift_rows, figures, scored = replay(window, load_model(registry=registry, ref=ref), config.replay_days)
    return write_replay(layout.table(JOB, "query_replay", day.isoformat()), daily, drift_rows, figures, scored) | {
        "daily": daily.to_dicts(), "scored_rows": scored.height}


def replay_views(layout: DataLayout, day: date) -> dict[str, Location]:
    """The catalog views of a replayed window (`make query`): every scored query, and the per-day figures."""
    written = current(layout.table(JOB, "query_replay", day.isoformat()))
    label = day.isoformat().replace("-", "_")
    return {f"{JOB}_scored_{label}": written / "scored.parquet", f"{JOB}_replay_{label}": written / "replay_daily.parquet"}
