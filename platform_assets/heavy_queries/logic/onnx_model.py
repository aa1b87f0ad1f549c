"""The served form of the model: ONNX, checked against XGBoost, and the files the registry stores.

The ONNX graph holds the trees only; its one input is the featurizer's float32 row (base,
historical and TF-IDF columns). TF-IDF stays in the featurizer rather than in the graph: the
featurizer is needed anyway for the parsed and historical features, the same code then feeds
training, XGBoost and ONNX, and the graph escapes skl2onnx's tokenizer pitfalls (locale,
token pattern: ML_TOOLING_NOTES §2). Dense float32 input, so a TF-IDF zero is a zero on both
sides, never "missing" on one.

Parity gate: every test row's ONNX probability within `onnx_tolerance` (1e-5) of XGBoost's, and
the same decision at the threshold. A model failing any gate is registered for inspection and
never promoted (`promotable`).
"""

from __future__ import annotations

import json

import numpy as np

from platform_assets.heavy_queries.logic.featurizer import Featurizer
from platform_assets.heavy_queries.logic.training import TrainedModel
from platform_core.gates import GateResult, all_passed

OPSET = 15  # the highest onnxmltools 1.16 converts XGBoost to
INPUT_NAME = "features"
MODEL_NAME = "heavy_query_classifier"
FILES = ("model.onnx", "featurizer.json", "model.ubj", "model.json")


def export_onnx(model: TrainedModel, n_features: int) -> bytes:
    """The booster as an ONNX classifier: input `features` float32 [N, n_features], outputs label and probabilities.
    The graph is named for the model (the converter names it with a random UUID), so the same booster
    gives the same bytes and the registry the same version."""
    from onnxmltools.convert import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    onx = convert_xgboost(model.booster(), initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
                          target_opset=OPSET, name=MODEL_NAME)
    return onx.SerializeToString()


def session(onnx_bytes: bytes, threads: int = 1):
    """An onnxruntime session with `threads` intra-op threads (one per served query keeps latency flat)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"])


def onnx_probabilities(sess, X: np.ndarray) -> np.ndarray:
    """P(heavy) per row from an ONNX session."""
    outputs = sess.run(None, {INPUT_NAME: np.asarray(X, dtype=np.float32)})
    probabilities = outputs[1]
    if isinstance(probabilities, list):  # a ZipMap output: one dict per row
        return np.array([row[1] for row in probabilities], dtype=np.float64)
    return np.asarray(probabilities, dtype=np.float64)[:, 1]


def onnx_parity_gate(onnx_bytes: bytes, model: TrainedModel, X: np.ndarray, threshold: float,
                     tolerance: float = 1e-5) -> GateResult:
    """ONNX against XGBoost on every row of X: max abs difference of probabilities and decisions that differ."""
    return onnx_parity_verdict(model.predict(X), onnx_probabilities(session(onnx_bytes), X), threshold, tolerance,
                               len(onnx_bytes))


def onnx_parity_verdict(native: np.ndarray, served: np.ndarray, threshold: float | np.ndarray, tolerance: float,
                        onnx_bytes: int) -> GateResult:
    """The parity gate from XGBoost's and ONNX's probabilities of the same rows (gathered chunk by chunk), decisions
    at `threshold` (one, or one per row)."""
    diff = np.abs(np.asarray(native, dtype=np.float64) - np.asarray(served, dtype=np.float64))
    flips = int(((native >= threshold) != (served >= threshold)).sum())
    max_diff = float(diff.max()) if len(diff) else 0.0
    return GateResult("onnx_parity", bool(max_diff <= tolerance and flips == 0), {
        "rows": int(len(diff)), "max_abs_diff": max_diff, "tolerance": tolerance, "decisions_differing": flips,
        "thresholds": sorted({float(t) for t in np.unique(threshold)}), "onnx_bytes": onnx_bytes,
    })


def model_files(model: TrainedModel, featurizer: Featurizer, onnx_bytes: bytes, threshold: dict, drift_reference: dict,
                extra: dict | None = None) -> dict[str, bytes]:
    """The registry entry's files: model.onnx (served), featurizer.json, model.ubj (XGBoost) and
    model.json (threshold, rounds, params, CV, drift reference, anything in `extra`). The featurizer
    must carry the history state serving starts from (history.build_state)."""
    if featurizer.history is None:
        raise ValueError("the featurizer has no history state: serving needs one (history.build_state)")
    description = {"threshold": threshold, "rounds": model.rounds, "params": model.params, "cv": model.cv,
                   "feature_names": featurizer.feature_names,
                   "numeric_features": featurizer.n_numeric, "drift_reference": drift_reference, **(extra or {})}
    return {"model.onnx": onnx_bytes, "featurizer.json": featurizer.to_json().encode(), "model.ubj": model.booster_ubj,
            "model.json": json.dumps(description, sort_keys=True, default=str).encode()}


def promotable(gates: list[GateResult]) -> dict:
    """The verdict the wiring promotes on: every blocking gate passed; each gate's outcome by name."""
    return {"promote": all_passed(gates), "gates": {g.name: g.passed for g in gates},
            "failed": [g.name for g in gates if g.blocking and not g.passed]}
