"""Serving: featurize one query (or a batch) and score it with the ONNX model through onnxruntime.

A model is a registry entry (model.onnx, featurizer.json, model.json, checked against the SHA-256
recorded in its metadata.json), read from a registry by reference or from its directory. Loaded
models (featurizer and onnxruntime session, one intra-op thread) are cached per version, so a
service pays the load once. A query in a validated zero-cost category is answered by the rule,
without the model, with probability 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from platform_assets.heavy_queries.logic.featurizer import Featurizer
from platform_assets.heavy_queries.logic.history import HistoryState
from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME, onnx_probabilities, session
from platform_core.registry import ModelIntegrityError, ModelRef, ModelRegistry, sha256

JOB = "heavy_queries"


@dataclass
class LoadedModel:
    featurizer: Featurizer
    session: object
    threshold: float
    model_version: str
    description: dict


def _loaded(files: dict[str, bytes], version: str) -> LoadedModel:
    description = json.loads(files["model.json"])
    return LoadedModel(Featurizer.from_json(files["featurizer.json"].decode()), session(files["model.onnx"]),
                       float(description["threshold"]["threshold"]), version, description)


@lru_cache(maxsize=8)
def _from_dir(path: str) -> LoadedModel:
    directory = Path(path)
    metadata = json.loads((directory / "metadata.json").read_text())
    files = {}
    for name in ("model.onnx", "featurizer.json", "model.json"):
        data = (directory / name).read_bytes()
        if sha256(data) != metadata["files"][name]:
            raise ModelIntegrityError(f"{directory / name}: SHA-256 does not match metadata.json; refusing to load")
        files[name] = data
    return _loaded(files, f"{metadata.get('model', MODEL_NAME)}/{metadata.get('version', directory.name)}")


@lru_cache(maxsize=8)
def _from_registry(root: str, ref: ModelRef) -> LoadedModel:
    registry = ModelRegistry(root)
    files = {name: registry.load_file(ref, name) for name in ("model.onnx", "featurizer.json", "model.json")}
    return _loaded(files, str(ref))


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
    """{"heavy", "probability", "threshold", "model_version", "zero_cost_category"} for one query."""
    model = model or load_model(model_dir, registry, ref)
    category = model.featurizer.route(sql, query_type)
    if category is not None:
        probability = 0.0
    else:
        row = model.featurizer.featurize_one(sql, user, source, schema, query_type, day)
        probability = float(onnx_probabilities(model.session, row)[0])
    return {"heavy": probability >= model.threshold, "probability": probability, "threshold": model.threshold,
            "model_version": model.model_version, "zero_cost_category": category}


def score_batch(frame: pl.DataFrame, model: LoadedModel, states: dict[date, HistoryState] | None = None) -> pl.DataFrame:
    """`frame` (query, user, source, schema, query_type, day) with probability, heavy_predicted,
    zero_cost_routed and model_version. History from `states` per day (history.states_by_day), or
    the model's stored state for every day."""
    featurizer = model.featurizer
    pairs = list(frame.select("query", "query_type").iter_rows())
    routes = {pair: featurizer.route(pair[0] or "", pair[1]) for pair in set(pairs)}  # once per distinct text
    categories = [routes[pair] for pair in pairs]
    routed = np.array([c is not None for c in categories], dtype=bool)
    probability = np.zeros(len(frame), dtype=np.float64)
    if (~routed).any():
        scored = frame.filter(pl.Series(~routed))
        states = states or {day: featurizer.history for day in scored["day"].unique().to_list()}
        probability[~routed] = onnx_probabilities(model.session, featurizer.featurize_frame(scored, states))
    return frame.with_columns(
        pl.Series("probability", probability), pl.Series("heavy_predicted", probability >= model.threshold),
        pl.Series("zero_cost_routed", categories, dtype=pl.String), pl.lit(model.model_version).alias("model_version"))
