"""heavy_queries' stages as the assets call them, one function each, every one reading and
writing warehouse tables of one day (the last day of its 44-day window):

labelled_queries/<day>   one day's log labelled and filtered (labels.build_labelled)
query_window/<day>       the window's labelled rows deduplicated across days, with their split
                         (window.parquet/<day>.parquet) and the boundary sample of the training
                         days; blocked when a day lost too many rows to delivery defects (usable_rows)
query_features/<day>     the featurizer fitted on training days, the feature matrices of the
                         sample, validation and test rows (unparsed texts marked: left out of
                         the sample, served heavy on validation and test), the history states
                         replay and serving start from, and the parity report
heavy_query_model        the registry entry (ONNX, featurizer, XGBoost UBJ, threshold), promoted
                         only when every gate passed
query_replay/<day>       the champion over the window's last 14 days: every query scored, per-day
                         recall, FNR, routed share, PSI drift, report with plots; catalog views
Each stage is a checkpoint: re-executing a failed run from failure starts at the failed stage.

Memory is bounded by design (logic/memory.py): no stage holds the window. Days are read one at a
time and each a batch (batches.BATCH_ROWS rows) at a time; what a gate or the sample needs is
counted on the way; matrices are written and scored in chunks; the training sample is capped
(max_sample_rows); history rolls over the 14 days before the day featurized, without the texts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import date, timedelta

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from platform_assets.heavy_queries.logic.batches import WINDOW, MatrixWriter, compact, day_file, iter_batches, iter_matrix, read_columns, row_count
from platform_assets.heavy_queries.logic.config import HeavyThresholds, ModelConfig
from platform_core import duck
from platform_core.contract import ContractError
from platform_core.gates import GateResult
from platform_core.registry import ModelRegistry, NoChampionError
from platform_core.storage import DataLayout, Location, atomic_dir, current

if TYPE_CHECKING:
    from platform_assets.heavy_queries.logic.history import HistoryState

JOB = "heavy_queries"
WINDOW_DAYS = 44


def model_config(cpu_ms: int, peak_memory_bytes: int, **overrides) -> ModelConfig:
    return replace(ModelConfig(), thresholds=HeavyThresholds(cpu_ms=cpu_ms, peak_memory_bytes=peak_memory_bytes), **overrides)


def window_days(day: date, config: ModelConfig) -> list[date]:
    days = config.train_days + config.validation_days + config.test_days
    return [day - timedelta(days=d) for d in range(days - 1, -1, -1)]


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


def _labelled_days(layout: DataLayout, day: date, config: ModelConfig) -> dict[date, Location]:
    """The current labelled_queries directory of every day of the window ending `day`."""
    days = window_days(day, config)
    missing = [d.isoformat() for d in days if not layout.table(JOB, "labelled_queries", d.isoformat()).exists()]
    if missing:
        raise FileNotFoundError(f"labelled_queries lacks {len(missing)} day(s) of the window ending {day}: "
                                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    return {d: current(layout.table(JOB, "labelled_queries", d.isoformat())) for d in days}


def _set_aside_by_day(labelled: dict[date, Location]) -> pl.DataFrame:
    """day, rows_in and rows set aside per defect reason of each labelled day."""
    from platform_assets.heavy_queries.logic.labels import DEFECT_REASONS

    rows = []
    for d, directory in labelled.items():
        aside = read_columns(directory / "set_aside.parquet", ["filter_reason"])["filter_reason"]
        by_reason = dict(aside.value_counts().iter_rows())
        rows.append({"day": d, "rows_in": row_count(directory / "labelled.parquet") + len(aside),
                     **{r: int(by_reason.get(r, 0)) for r in DEFECT_REASONS}})
    return pl.DataFrame(rows)


def _repeated_ids(labelled: dict[date, Location]) -> pl.DataFrame:
    """query_id and the first day of every id kept on several days of the window (a late re-delivery):
    only that day's row stays. Counted by DuckDB (memory-capped, spilling), so only the repeats come back."""
    con = duck.connect()
    try:
        files = ", ".join(duck.literal(d / "labelled.parquet") for d in labelled.values())
        return pl.from_arrow(con.sql(f"SELECT query_id, min(day) AS first_day FROM read_parquet([{files}]) "
                                     "GROUP BY query_id HAVING count(*) > 1").to_arrow_table())
    finally:
        con.close()


def build_window(layout: DataLayout, day: date, config: ModelConfig) -> tuple[dict, tuple[GateResult, GateResult]]:
    """The window's labelled days -> usable-rows verdict -> cross-day dedup -> splits -> zero-cost
    verdicts -> boundary sample; gates (zero_cost_categories, usable_rows). One day and one batch at a
    time: `window.parquet/<day>.parquet` is written as the days are read, with what the gates and the
    sample need counted on the way; the sample is drawn in a second pass over the training days."""
    from platform_assets.heavy_queries.logic.history import with_fingerprints
    from platform_assets.heavy_queries.logic.labels import usable_rows_gate, zero_cost_gate
    from platform_assets.heavy_queries.logic.sampling import add_counts, boundary_distance, boundary_figures, distance_counts, draw, plan_boundary
    from platform_assets.heavy_queries.logic.splits import split_days, split_of

    labelled = _labelled_days(layout, day, config)
    usable = usable_rows_gate(_set_aside_by_day(labelled), config.max_defect_share)
    repeated = _repeated_ids(labelled)
    ranges = split_days(day, config.train_days, config.validation_days, config.test_days)
    counted = {"rows_in": 0, "rows_out": 0, "heavy": 0}
    splits = {name: {"first_day": ranges[name][0].isoformat(), "last_day": ranges[name][1].isoformat(), "rows": 0,
                     "heavy": 0, "days_with_data": 0} for name in ("train", "validation", "test")}
    splits["history_rows"] = 0
    zero_cost: list[pl.DataFrame] = []
    train: dict[str | None, list] = {}  # zero-cost category -> [small rows' distance counts, heavy rows]
    with atomic_dir(layout.table(JOB, "query_window", day.isoformat())) as tmp:
        (tmp / WINDOW).mkdir()
        for d, directory in labelled.items():
            split = split_of(d, ranges)
            kept = 0
            writer = None
            for batch in iter_batches(directory / "labelled.parquet"):
                counted["rows_in"] += batch.height
                batch = (batch.join(repeated, on="query_id", how="left", maintain_order="left")
                         .filter(pl.col("first_day").is_null() | (pl.col("first_day") == pl.col("day"))).drop("first_day"))
                batch = with_fingerprints(batch).with_columns(pl.lit(split).alias("split"))
                table = batch.to_arrow()
                writer = writer or pq.ParquetWriter(day_file(tmp, d), table.schema)
                writer.write_table(table.cast(writer.schema))
                kept += batch.height
                heavy = int(batch["heavy"].sum())
                counted["rows_out"] += batch.height
                counted["heavy"] += heavy
                zero_cost.append(batch.group_by("zero_cost_category", "heavy").agg(pl.len().alias("n")))
                if split == "history":
                    splits["history_rows"] += batch.height
                    continue
                splits[split]["rows"] += batch.height
                splits[split]["heavy"] += heavy
                if split == "train":
                    distance = boundary_distance(batch, config.thresholds)
                    light = ~batch["heavy"].to_numpy()
                    for (category,), part in batch.with_columns(pl.Series("_d", distance), pl.Series("_light", light)) \
                            .group_by("zero_cost_category"):
                        counts, heavy_rows = train.get(category, [None, 0])
                        train[category] = [add_counts(counts, distance_counts(part.filter("_light")["_d"].to_numpy())),
                                           heavy_rows + int((~part["_light"]).sum())]
            if writer is None:  # a day without rows still has its (empty) file
                schema = with_fingerprints(read_columns(directory / "labelled.parquet", None).head(0)).with_columns(
                    pl.lit(split).alias("split")).to_arrow().schema
                writer = pq.ParquetWriter(day_file(tmp, d), schema)
            writer.close()
            if split in splits and kept:
                splits[split]["days_with_data"] += 1
        zero_cost_verdict = zero_cost_gate(pl.concat(zero_cost) if zero_cost else pl.DataFrame(
            schema={"zero_cost_category": pl.String, "heavy": pl.Boolean, "n": pl.UInt32}), config)
        routed = zero_cost_verdict.metadata["routed"]
        modelled = [counts for category, counts in train.items() if category not in routed]
        small_counts = np.zeros(1, dtype=np.int64)
        for counts, _ in modelled:
            small_counts = add_counts(small_counts, counts)
        heavy_in = sum(h for _, h in modelled)
        plan = plan_boundary(small_counts, heavy_in, config.sample_ratio, config.max_boost, config.min_multiplier,
                             config.max_sample_rows)
        kept_parts = []
        for d in labelled:
            if split_of(d, ranges) != "train":
                continue
            for batch in iter_batches(day_file(tmp, d)):
                batch = batch.filter(_model_rows(routed))
                distance = boundary_distance(batch, config.thresholds)
                kept_parts.append(compact(draw(batch.with_columns(pl.Series("boundary_distance", distance)),
                                               plan.probability(distance, batch["heavy"].to_numpy()), config.seed)))
        if not kept_parts:
            raise ValueError(f"the window ending {day} has no training rows to sample ({ranges['train'][0]} to "
                             f"{ranges['train'][1]}): deliver those days")
        sample = pl.concat(kept_parts)
        sample.write_parquet(tmp / "sample.parquet")
        (tmp / "routed.json").write_text(json.dumps(routed))  # the validated zero-cost categories, judged once
    return {"rows_in": counted["rows_in"], "rows_out": counted["rows_out"],
            "cross_day_duplicates": counted["rows_in"] - counted["rows_out"], "heavy": counted["heavy"],
            "heavy_share": round(counted["heavy"] / max(counted["rows_out"], 1), 4), "splits": splits,
            "sampling": boundary_figures(plan, small_counts, heavy_in, sample),
            "zero_cost_routed": routed}, (zero_cost_verdict, usable)


def _window_dir(layout: DataLayout, day: date) -> Location:
    return current(layout.table(JOB, "query_window", day.isoformat()))


def _routed(layout: DataLayout, day: date) -> list[str]:
    return json.loads((_window_dir(layout, day) / "routed.json").read_text())


def _model_rows(routed: list[str]) -> pl.Expr:
    return ~pl.col("zero_cost_category").is_in(routed).fill_null(False)


def _rolling_states(layout: DataLayout, day: date, config: ModelConfig) -> Iterator[tuple[date, HistoryState]]:
    """(day, history state) for every day of the window ending `day` and the day after it (serving's), each
    from the HISTORY_DAYS before it: a rolling set of days' slim rows (no text), never the whole window."""
    from platform_assets.heavy_queries.logic.history import WINDOW_DAYS as HISTORY_DAYS
    from platform_assets.heavy_queries.logic.history import build_state

    directory = _window_dir(layout, day)
    columns = ["user", "source", "fingerprint", "day", "heavy", "cpu_time_ms", "peak_memory_bytes"]
    recent: dict[date, pl.DataFrame] = {}
    for d in [*window_days(day, config), day + timedelta(days=1)]:
        recent = {k: v for k, v in recent.items() if k >= d - timedelta(days=HISTORY_DAYS)}
        before = pl.concat(list(recent.values())) if recent else pl.DataFrame(schema={
            "user": pl.String, "source": pl.String, "fingerprint": pl.String, "day": pl.Date, "heavy": pl.Boolean,
            "cpu_time_ms": pl.Int64, "peak_memory_bytes": pl.Int64})
        yield d, build_state(before, d)
        if d <= day:
            recent[d] = read_columns(day_file(directory, d), columns)


def build_features(layout: DataLayout, day: date, config: ModelConfig) -> tuple[dict, list[GateResult]]:
    """Featurizer fitted on training days only; matrices of sample / validation / test; parity. Read a day
    and a batch at a time, matrices written in chunks; the history states replay and serving need kept."""
    from platform_assets.heavy_queries.logic.featurizer import DocumentCounts, featurizer_from_counts, parity_gate, parity_report, vocabulary_gate
    from platform_assets.heavy_queries.logic.history import FINGERPRINT_FEATURES
    from platform_assets.heavy_queries.logic.splits import split_days, split_of

    directory = _window_dir(layout, day)
    routed = _routed(layout, day)
    ranges = split_days(day, config.train_days, config.validation_days, config.test_days)
    splits = {d: split_of(d, ranges) for d in window_days(day, config)}
    documents = DocumentCounts()
    for d in (d for d, split in splits.items() if split == "train"):
        for batch in iter_batches(day_file(directory, d), ["query"]):
            documents.add(batch["query"])
    featurizer = featurizer_from_counts(documents, catalog_stats(layout), config.tfidf_terms, config.tfidf_min_df, routed)
    sample = pl.read_parquet(str(directory / "sample.parquet"))
    sample = sample.with_columns(featurizer.unparsed_reasons(sample["query"]))
    unparsed = {"sample": _unparsed_counts(sample), "validation": {}, "test": {}}
    sample = sample.filter(pl.col("unparsed").is_null())  # served heavy whatever the model says: nothing to learn from
    tables = {sql: featurizer.tables_read(sql) for sql in sample["query"].unique().to_list()}
    sample = sample.with_columns(pl.col("query").replace_strict(tables, return_dtype=pl.String).alias("tables_read"))
    fingerprint_columns = [featurizer.feature_names.index(name) for name in FINGERPRINT_FEATURES]
    sizes = {name: _count_rows(directory, [d for d, s in splits.items() if s == name], routed) for name in ("validation", "test")}
    parity_rows, test_states, kept_states = [], {}, {}
    replayed = set(window_days(day, config)[-config.replay_days:]) | {day + timedelta(days=1)}
    with atomic_dir(layout.table(JOB, "query_features", day.isoformat())) as tmp:
        writers = {"sample": MatrixWriter(tmp / "sample_X.npy", sample.height, len(featurizer.feature_names)),
                   "unseen": MatrixWriter(tmp / "sample_unseen_fingerprint.npy", sample.height, len(fingerprint_columns)),
                   **{name: MatrixWriter(tmp / f"{name}_X.npy", n, len(featurizer.feature_names)) for name, n in sizes.items()}}
        row_writers: dict[str, pq.ParquetWriter] = {}
        for d, state in _rolling_states(layout, day, config):
            states = {d: state}
            if d in replayed:
                kept_states[d.isoformat()] = state.to_dict()
            split = splits.get(d)
            if split == "test":
                test_states[d] = state
            if split == "train":
                rows = sample.filter(pl.col("day") == d)
                writers["sample"].write(featurizer.featurize_frame(rows, states))
                writers["unseen"].write(featurizer.featurize_frame(rows, states, unseen_fingerprints=True)[:, fingerprint_columns])
            elif split in ("validation", "test"):
                for batch in iter_batches(day_file(directory, d)):
                    rows = batch.filter(_model_rows(routed))
                    rows = rows.with_columns(featurizer.unparsed_reasons(rows["query"]))
                    for reason, n in _unparsed_counts(rows).items():
                        unparsed[split][reason] = unparsed[split].get(reason, 0) + n
                    writers[split].write(featurizer.featurize_frame(rows, states))
                    table = rows.select("query_id", "heavy", "zero_cost_category", "unparsed").to_arrow()
                    if split not in row_writers:
                        row_writers[split] = pq.ParquetWriter(tmp / f"{split}_rows.parquet", table.schema)
                    row_writers[split].write_table(table.cast(row_writers[split].schema))
                    if split == "test":  # the parity sample: the 200 rows with the smallest draws, kept as batches pass
                        parity_rows = _smallest_draws([*parity_rows, rows], config.seed)
        for writer in [*writers.values(), *row_writers.values()]:
            writer.close()
        for name in ("validation", "test"):
            if name not in row_writers:
                pl.DataFrame(schema={"query_id": pl.String, "heavy": pl.Boolean, "zero_cost_category": pl.String,
                                     "unparsed": pl.String}).write_parquet(tmp / f"{name}_rows.parquet")
        sample.select("query_id", "heavy", "zero_cost_category", "unparsed", "tables_read", "keep_probability").write_parquet(
            tmp / "sample_rows.parquet")
        parity = parity_report(featurizer, pl.concat(parity_rows), test_states)
        gates = [vocabulary_gate(featurizer, documents), parity_gate(parity)]
        (tmp / "featurizer.json").write_text(featurizer.to_json())
        (tmp / "states.json").write_text(json.dumps(kept_states))
    return {"features": len(featurizer.feature_names), "numeric_features": featurizer.n_numeric,
            "vocabulary": len(featurizer.vocabulary), "rows_in": sample.height, "parity": parity,
            "featurized_rows": sample.height + sum(sizes.values()),
            "unparsed": unparsed, "unparsed_rows": sum(sum(v.values()) for v in unparsed.values())}, gates


def _unparsed_counts(rows: pl.DataFrame) -> dict[str, int]:
    return {str(r): n for r, n in rows.filter(pl.col("unparsed").is_not_null()).group_by("unparsed").len().iter_rows()}


def _count_rows(directory: Location, days: list[date], routed: list[str]) -> int:
    """Model rows (not routed by a zero-cost rule) of the window's `days`."""
    return sum(read_columns(day_file(directory, d), ["zero_cost_category"]).filter(_model_rows(routed)).height for d in days)


def _smallest_draws(frames: list[pl.DataFrame], seed: int, rows: int = 200) -> list[pl.DataFrame]:
    """The `rows` rows with the smallest seeded draws among `frames`: a fixed-size sample kept while batches pass."""
    from platform_assets.heavy_queries.logic.sampling import uniform

    frame = pl.concat(frames)
    return [compact(frame.with_columns(pl.Series("_draw", uniform(frame["query_id"], seed))).sort("_draw").head(rows).drop("_draw"))]


def _features_dir(layout: DataLayout, day: date) -> Location:
    return current(layout.table(JOB, "query_features", day.isoformat()))


def _rows(layout: DataLayout, day: date, name: str) -> pl.DataFrame:
    return pl.read_parquet(str(_features_dir(layout, day) / f"{name}_rows.parquet"))


def _served(rows: pl.DataFrame, probabilities: np.ndarray) -> np.ndarray:
    """Probabilities as serving gives them: 1 for an unparsed text (routed heavy without the model)."""
    return np.where(rows["unparsed"].is_not_null().to_numpy(), 1.0, probabilities)


def _states(layout: DataLayout, day: date) -> dict[date, HistoryState]:
    from platform_assets.heavy_queries.logic.history import HistoryState

    stored = json.loads((_features_dir(layout, day) / "states.json").read_text())
    return {date.fromisoformat(d): HistoryState.from_dict(state) for d, state in stored.items()}


def train_and_register(layout: DataLayout, registry: ModelRegistry, day: date, config: ModelConfig) -> tuple[dict, list[GateResult]]:
    """CV + final model on the sample, threshold at the FN:FP cost on validation days, compliance on
    test days, ONNX export and parity; registered always, promoted only when every gate passed. The
    validation and test matrices are read and scored in chunks."""
    from platform_assets.heavy_queries.logic.featurizer import Featurizer
    from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME, export_onnx, model_files, onnx_parity_verdict, promotable, session, onnx_probabilities
    from platform_assets.heavy_queries.logic.replay import training_drift_reference
    from platform_assets.heavy_queries.logic.threshold import choose_threshold, compliance_gate, decision_thresholds
    from platform_assets.heavy_queries.logic.training import classification_metrics, train_model

    directory = _features_dir(layout, day)
    featurizer = Featurizer.from_json((directory / "featurizer.json").read_text())
    with (directory / "sample_X.npy").open("rb") as handle:
        X_sample = np.load(handle)
    sample, valid, test = (_rows(layout, day, name) for name in ("sample", "validation", "test"))
    model = train_model(X_sample, sample["heavy"].to_numpy(), config, featurizer.feature_names)
    p_valid = np.concatenate([model.predict(X) for X in iter_matrix(directory / "validation_X.npy")] or [np.zeros(0)])
    threshold = choose_threshold(valid["heavy"].to_numpy(), _served(valid, p_valid), config.cost_fn, config.cost_fp)
    cold_threshold = _cold_start_threshold(directory, featurizer, X_sample, sample, model, threshold["threshold"], config)
    onnx = export_onnx(model, X_sample.shape[1])
    served_by = session(onnx)
    native, by_onnx, cold = [], [], []
    cold_column = featurizer.feature_names.index("cold_fingerprint")
    for X in iter_matrix(directory / "test_X.npy"):
        native.append(model.predict(X))
        by_onnx.append(onnx_probabilities(served_by, X))
        cold.append(X[:, cold_column] == 1)
    native, by_onnx = np.concatenate(native or [np.zeros(0)]), np.concatenate(by_onnx or [np.zeros(0)])
    cold = np.concatenate(cold or [np.zeros(0, dtype=bool)])
    p_test = _served(test, native)
    window = _window_dir(layout, day)
    test_days = window_days(day, config)[-config.test_days:]
    routed = _routed(layout, day)
    # judged as served: queries a zero-cost rule routes light count with probability 0
    routed_heavy = np.concatenate([read_columns(day_file(window, d), ["zero_cost_category", "heavy"])
                                   .filter(~_model_rows(routed))["heavy"].to_numpy() for d in test_days])
    compliance = compliance_gate(np.concatenate([test["heavy"].to_numpy(), routed_heavy]),
                                 np.concatenate([p_test, np.zeros(len(routed_heavy))]), threshold["threshold"], config,
                                 np.concatenate([cold, np.zeros(len(routed_heavy), dtype=bool)]), cold_threshold["threshold"])
    parity = onnx_parity_verdict(native, by_onnx, decision_thresholds(cold, threshold["threshold"], cold_threshold["threshold"]),
                                 config.onnx_tolerance, len(onnx))
    featurizer.history = _states(layout, day)[day + timedelta(days=1)]
    reference = training_drift_reference(featurizer, X_sample, model.predict(X_sample))
    gates = [compliance, parity]
    verdict = promotable(gates)
    test_metrics = {**compliance.metadata, "auc": classification_metrics(test["heavy"].to_numpy(), p_test)["auc"]}
    ref = registry.register(JOB, MODEL_NAME, day.isoformat(),
                            model_files(model, featurizer, onnx, threshold, reference,
                                        {"config": asdict(config), "cold_threshold": cold_threshold}),
                            {"threshold": threshold["threshold"], "cold_threshold": cold_threshold["threshold"], "cv": model.cv,
                             "test": test_metrics,
                             "compliance": compliance.metadata, "onnx_parity": parity.metadata, "gates": verdict["gates"]})
    promoted = bool(verdict["promote"]) and registry.promote(JOB, {MODEL_NAME: ref}, f"trained on the window ending {day}; "
                                                                                    "every gate passed")
    return {"version": str(ref), "promoted": promoted, "failed_gates": verdict["failed"], "rounds": model.rounds,
            "heavy_in_sample": int(sample["heavy"].sum()),
            "training_seconds": model.seconds, "cv": model.cv, "threshold": threshold, "cold_threshold": cold_threshold,
            "test": test_metrics,
            "rows_in": len(sample)}, gates


def _cold_start_threshold(directory: Location, featurizer, X_sample: np.ndarray, sample: pl.DataFrame, model,
                          threshold: float, config: ModelConfig) -> dict:
    """training.cold_start_threshold on the sample, with its rows' fingerprint history as if unseen (build_features)."""
    from platform_assets.heavy_queries.logic.history import FINGERPRINT_FEATURES
    from platform_assets.heavy_queries.logic.training import cold_start_threshold

    with (directory / "sample_unseen_fingerprint.npy").open("rb") as handle:
        unseen = np.load(handle)
    return cold_start_threshold(X_sample, sample["heavy"].to_numpy(), sample["tables_read"].to_numpy(), unseen,
                                [featurizer.feature_names.index(name) for name in FINGERPRINT_FEATURES],
                                1.0 / sample["keep_probability"].to_numpy(), model, threshold, config)


def replay_window(layout: DataLayout, registry: ModelRegistry, day: date, config: ModelConfig) -> dict:
    """The champion over the window's last `replay_days` days, a day and a batch at a time: every scored
    batch appended to scored.parquet as it is made. Its overall figures are judged on the days after the
    champion's validation days (its test days and later), which neither its model nor its threshold saw."""
    from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME
    from platform_assets.heavy_queries.logic.replay import replay_days, write_report
    from platform_assets.heavy_queries.logic.scored_table import SCORED_SCHEMA
    from platform_assets.heavy_queries.logic.serving import load_model
    from platform_assets.heavy_queries.logic.splits import split_days

    try:
        ref = registry.champion(JOB)[MODEL_NAME]
    except NoChampionError as exc:
        raise NoChampionError(f"{exc}: no heavy_queries model has passed every gate yet, so there is nothing to replay") from None
    window = _window_dir(layout, day)
    days = window_days(day, config)[-config.replay_days:]
    trained_on = date.fromisoformat(ref.version[:10])  # the last day of the champion's own window
    unseen_from = split_days(trained_on, config.train_days, config.validation_days, config.test_days)["test"][0]
    with atomic_dir(layout.table(JOB, "query_replay", day.isoformat())) as tmp:
        with pq.ParquetWriter(tmp / "scored.parquet", SCORED_SCHEMA) as writer:
            daily, drift_rows, figures = replay_days(
                days, lambda d: iter_batches(day_file(window, d)), _states(layout, day),
                load_model(registry=registry, ref=ref), lambda scored: writer.write_table(scored.to_arrow().cast(SCORED_SCHEMA)),
                unseen_from)
        write_report(tmp, daily, drift_rows, figures)
    return figures | {"daily": daily.to_dicts(), "scored_rows": int(daily["rows"].sum()) if len(daily) else 0}


def replay_views(layout: DataLayout, day: date) -> dict[str, Location]:
    """The catalog views of a replayed window (`make query`): every scored query, and the per-day figures."""
    written = current(layout.table(JOB, "query_replay", day.isoformat()))
    label = day.isoformat().replace("-", "_")
    return {f"{JOB}_scored_{label}": written / "scored.parquet", f"{JOB}_replay_{label}": written / "replay_daily.parquet"}
