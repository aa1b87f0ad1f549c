"""The verdict on tier-1 (critical park) entities after a training run, as plain data.

A critical entity without a current model is one of two things. Too new to train (too few
observations for `trainable`, so skipped as too_few_observations, or not selected this run and
still below it): it is served by the fallback forecast (logic/fallback.py), reported by count
and ids, and does not block. Anything else (training failed, or it was never trained) blocks:
the forecasts would silently fall back for an entity that should have a model. Messages name
how many entities and which (the first 10 ids), never the tier's size.
"""

from __future__ import annotations

import polars as pl

from platform_assets.wait_times.logic.training import TOO_FEW, TrainSettings, trainable
from platform_core.gates import GateResult

SHOWN = 10


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:SHOWN])) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def critical_model_gate(index: pl.DataFrame, results: pl.DataFrame, with_model: set[int],
                        settings: TrainSettings = TrainSettings()) -> GateResult:
    """`critical_entities_have_model`: every tier-1 entity of the index has a current model or is
    too new to train (then the fallback serves it)."""
    outcome = {r["entity_id"]: r for r in results.iter_rows(named=True)}
    fallback, blocking = [], []
    for entity_id, observations in index.filter(pl.col("tier") == 1).select("entity_id", "observation_count").iter_rows():
        if entity_id in with_model:
            continue
        row = outcome.get(entity_id, {})
        too_new = row.get("reason") == TOO_FEW or (row.get("status") in (None, "skipped") and not trainable(observations, settings))
        if too_new:
            fallback.append(entity_id)
        else:
            why = (f"failed: {row.get('error') or 'error'}" if row.get("status") == "failed"
                   else f"{row.get('status') or 'not trained'}: {row.get('reason') or 'no result'}")
            blocking.append((entity_id, why))
    metadata = {"without_model": len(blocking), "entities": [e for e, _ in blocking[:SHOWN]],
                "served_by_fallback": len(fallback), "fallback_entities": fallback[:SHOWN]}
    if blocking:
        metadata["problem"] = (f"{len(blocking)} tier-1 entit{'y has' if len(blocking) == 1 else 'ies have'} no model after "
                               "the run: " + "; ".join(f"{e} ({why[:120]})" for e, why in blocking[:SHOWN])
                               + (f"; and {len(blocking) - SHOWN} more" if len(blocking) > SHOWN else ""))
    if fallback:
        metadata["fallback"] = (f"{len(fallback)} tier-1 entit{'y is' if len(fallback) == 1 else 'ies are'} too new to train "
                                f"and served by the fallback forecast: {_ids(fallback)}")
    return GateResult("critical_entities_have_model", not blocking, metadata)
