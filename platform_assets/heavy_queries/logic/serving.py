"""Serving: featurize one query (or a batch) and score it with the ONNX model through onnxruntime.

A model is a registry entry (model.onnx, featurizer.json, model.json, checked against the SHA-256
recorded in its metadata.json), read from a registry by reference or from its directory. Loaded
models (featurizer and onnxruntime session, one intra-op thread) are cached per version, so a
service pays the load once. A query in a validated zero-cost category is answered by the rule,
without the model, with probability 0; a query whose fingerprint has no history is decided at the model's
cold-start threshold (threshold.py); an unparsed one (featurizer.UNPARSED: too long, or the reader
failed on it) is routed heavy without the model, with probability 1 (fail-safe for recall). A model
that cannot be loaded (missing, truncated or tampered files) is a `ModelLoadError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.featurizer import Featurizer, as_text
from platform_assets.heavy_queries.logic.history import HistoryState
from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME, onnx_probabilities, session
from platform_assets.heavy_queries.logic.threshold import decision_thresholds
from platform_core.registry import ModelIntegrityError, ModelRef, ModelRegistry, sha256

JOB = "heavy_queries"
MODEL_FILES = ("model.onnx", "featurizer.json", "model.json")


class ModelLoadError(ValueError):
    """A model entry whose files cannot be read or parsed; the message names the file."""


@dataclass
class LoadedModel:
    featurizer: Featurizer
    session: object
    threshold: float
    model_version: str
    description: dict
    cold_threshold: float | None = None  # for a fingerprint without history; None: `threshold` for every query

    def thresholds(self, X: np.ndarray) -> np.ndarray:
        """The threshold of each featurized row: the cold-start one where its fingerprint has no history."""
        cold = X[:, self.featurizer.feature_names.index("cold_fingerprint")] == 1
        return decision_thresholds(cold, self.threshold, self.threshold if self.cold_threshold is None else self.cold_threshold)


def _parsed(where, name: str, read):
    """`read()` of one model file, any failure a ModelLoadError naming the file (ModelIntegrityError passes)."""
    try:
        return read()
    except ModelIntegrityError:
        raise
    except Exception as exc:  # noqa: BLE001 - json, KeyError, onnxruntime's own exception types, OSError...
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{where}/{name}: unreadable ({detail[:200]})") from None


def _loaded(files: dict[str, bytes], version: str, where) -> LoadedModel:
    description = _parsed(where, "model.json", lambda: json.loads(files["model.json"]))
    threshold = _parsed(where, "model.json", lambda: float(description["threshold"]["threshold"]))
    cold = _parsed(where, "model.json", lambda: float(description["cold_threshold"]["threshold"])
                   if "cold_threshold" in description else None)
    featurizer = _parsed(where, "featurizer.json", lambda: Featurizer.from_json(files["featurizer.json"].decode()))
    return LoadedModel(featurizer, _parsed(where, "model.onnx", lambda: session(files["model.onnx"])), threshold, version,
                       description, cold)


@lru_cache(maxsize=8)
def _from_dir(path: str) -> LoadedModel:
    directory = Path(path)
    metadata = _parsed(directory, "metadata.json", lambda: json.loads((directory / "metadata.json").read_text()))
    files = {}
    for name in MODEL_FILES:
        data = _parsed(directory, name, (directory / name).read_bytes)
        if sha256(data) != _parsed(directory, "metadata.json", lambda: metadata["files"][name]):
            raise ModelIntegrityError(f"{directory / name}: SHA-256 does not match metadata.json; refusing to load")
        files[name] = data
    return _loaded(files, f"{metadata.get('model', MODEL_NAME)}/{metadata.get('version', directory.name)}", directory)


@lru_cache(maxsize=8)
def _from_registry(root: str, ref: ModelRef) -> LoadedModel:
    registry = ModelRegistry(root)
    where = registry.root / ref.job / ref.model / ref.version
    _parsed(where, "metadata.json", lambda: registry.metadata(ref))
    files = {name: _parsed(where, name, lambda name=name: registry.load_file(ref, name)) for name in MODEL_FILES}
    return _loaded(files, str(ref), where)


def load_model(model_dir: str | Path | None = None, registry: ModelRegistry | None = None,
               ref: ModelRef | str | None = None) -> LoadedModel:
    """A model from its directory, or from a registry by reference (default: the job's champion)."""
    if model_dir is not None:
        return _from_dir(str(Path(model_dir).resolve()))
    if registry is None:
        raise ValueError("give model_dir, or registry (and optionally ref)")
    if ref is None:
        ref = registry.champion(JOB)[MODEL_NAME]
    elif isinstance(ref, str):
        ref = ModelRef.parse(JOB, ref)
    return _from_registry(str(registry.root), ref)


def classify(sql: str, user: str | None = None, source: str | None = None, schema: str | None = None,
             query_type: str | None = None, model_dir: str | Path | None = None, registry: ModelRegistry | None = None,
             ref: ModelRef | str | None = None, model: LoadedModel | None = None, day: date | None = None) -> dict:
    """{"heavy", "probability", "threshold", "cold_start", "model_version", "zero_cost_category", "unparsed"} for
    one query (any text, str or bytes); `threshold` is the one applied (cold start: the query's fingerprint has no
    history, so the cold-start threshold)."""
    model = model or load_model(model_dir, registry, ref)
    unparsed = model.featurizer.unparsed(sql)
    category = None if unparsed else model.featurizer.route(as_text(sql), query_type)
    threshold, cold_start = model.threshold, False
    if unparsed:
        probability = 1.0
    elif category is not None:
        probability = 0.0
    else:
        row = model.featurizer.featurize_one(sql, user, source, schema, query_type, day)
        probability = float(onnx_probabilities(model.session, row)[0])
        threshold = float(model.thresholds(row)[0])
        cold_start = bool(row[0, model.featurizer.feature_names.index("cold_fingerprint")] == 1)
    return {"heavy": probability >= threshold, "probability": probability, "threshold": threshold, "cold_start": cold_start,
            "model_version": model.model_version, "zero_cost_category": category, "unparsed": unparsed}


def score_batch(frame: pl.DataFrame, model: LoadedModel, states: dict[date, HistoryState] | None = None) -> pl.DataFrame:
    """`frame` (query, user, source, schema, query_type, day) with probability, heavy_predicted, cold_start
    (decided at the cold-start threshold), zero_cost_routed, unparsed (routed heavy) and model_version. History from `states` per day
    (history.states_by_day), or the model's stored state for every day."""
    return score_with_features(frame, model, states)[0]


def score_with_features(frame: pl.DataFrame, model: LoadedModel,
                        states: dict[date, HistoryState] | None = None) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """(score_batch's frame, the feature matrix of the rows the model scored, which rows those are)."""
    featurizer = model.featurizer
    unparsed = featurizer.unparsed_reasons(frame["query"])
    pairs = list(frame.select("query", "query_type").iter_rows())
    routes = {pair: featurizer.route(as_text(pair[0]), pair[1]) for pair in set(pairs)}  # once per distinct text
    categories = [None if bad else routes[pair] for pair, bad in zip(pairs, unparsed.to_list())]
    heavy_routed = unparsed.is_not_null().to_numpy()
    routed = np.array([c is not None for c in categories], dtype=bool) | heavy_routed
    probability = np.where(heavy_routed, 1.0, 0.0)
    threshold = np.full(len(frame), model.threshold)
    cold_start = np.zeros(len(frame), dtype=bool)
    X = np.zeros((0, len(featurizer.feature_names)), dtype=np.float32)
    if (~routed).any():
        scored = frame.filter(pl.Series(~routed))
        states = states or {day: featurizer.history for day in scored["day"].unique().to_list()}
        X = featurizer.featurize_frame(scored, states)
        probability[~routed] = onnx_probabilities(model.session, X)
        threshold[~routed] = model.thresholds(X)
        cold_start[~routed] = X[:, featurizer.feature_names.index("cold_fingerprint")] == 1
    return frame.with_columns(
        pl.Series("probability", probability), pl.Series("heavy_predicted", probability >= threshold),
        pl.Series("cold_start", cold_start),
        pl.Series("zero_cost_routed", categories, dtype=pl.String), unparsed,
        pl.lit(model.model_version).alias("model_version")), X, ~routed
