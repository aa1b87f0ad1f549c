"""Per-entity model versions in the shared registry: one model and one champion slot per entity
(`entity_00042`), versions labelled by the training day, the last N kept, rollback of one
entity or all."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import polars as pl

from platform_assets.wait_times.logic.tables import JOB
from platform_core.registry import ModelRef, ModelRegistry, NoChampionError

MODEL_FILE = "model.ubj"


def model_name(entity_id: int) -> str:
    return f"entity_{int(entity_id):05d}"


def entity_of(model: str) -> int:
    return int(model.removeprefix("entity_"))


@dataclass(frozen=True)
class EntityModels:
    """What the registry knows of one entity: its champion and its most recent training."""
    entity_id: int
    current_version: str | None
    last_trained: date | None
    count_at_last_model: int | None


def champion_ref(registry: ModelRegistry, entity_id: int) -> ModelRef | None:
    name = model_name(entity_id)
    try:
        return registry.champion(JOB, name)[name]
    except NoChampionError:
        return None


def entity_models(registry: ModelRegistry, entity_id: int) -> EntityModels:
    """The champion, and the day and observation count of the newest version trained (promoted
    or not: a degraded candidate also resets the new-observation count, so it is not retried daily)."""
    name = model_name(entity_id)
    champion = champion_ref(registry, entity_id)
    versions = registry.versions(JOB, name)
    newest = max((registry.metadata(ModelRef(JOB, name, v)) for v in versions),
                 key=lambda m: (m["trained_on"], m["created_at"]), default=None)
    return EntityModels(entity_id, champion.version if champion else None,
                        date.fromisoformat(newest["trained_on"]) if newest else None,
                        newest["observation_count"] if newest else None)


def models_frame(registry: ModelRegistry, entity_ids: list[int], threads: int = 8) -> pl.DataFrame:
    """`entity_models` of many entities as a table (read with a few threads: many small files)."""
    with ThreadPoolExecutor(threads) as pool:
        states = list(pool.map(lambda e: entity_models(registry, e), entity_ids))
    return pl.DataFrame({"entity_id": [s.entity_id for s in states],
                         "current_version": [s.current_version for s in states],
                         "last_trained": [s.last_trained for s in states],
                         "count_at_last_model": [s.count_at_last_model for s in states]},
                        schema={"entity_id": pl.Int32, "current_version": pl.String, "last_trained": pl.Date,
                                "count_at_last_model": pl.Int64})


def promote(registry: ModelRegistry, entity_id: int, ref: ModelRef, reason: str) -> bool:
    name = model_name(entity_id)
    return registry.promote(JOB, {name: ref}, reason, slot=name)


def keep_last(registry: ModelRegistry, entity_id: int, keep: int) -> list[str]:
    """Remove all but the newest `keep` versions (never the champion or its rollback targets)."""
    name = model_name(entity_id)
    return registry.prune(JOB, name, keep, slot=name)


def rollback_entity(registry: ModelRegistry, entity_id: int, reason: str) -> str:
    """Return one entity to its previous champion; the version rolled back is not promoted again
    automatically. Refused (NoChampionError, nothing written) when there is none, or when it is
    no longer kept (rollback reaches `keep_versions` - 1 champions back). Returns the version now current."""
    name = model_name(entity_id)
    return registry.rollback(JOB, reason, slot=name)[name].version


def rollback_all(registry: ModelRegistry, reason: str, entity_ids: list[int] | None = None) -> dict:
    """Roll back every entity (or `entity_ids`) that can be; the others are listed with the reason."""
    ids = entity_ids if entity_ids is not None else [entity_of(s) for s in registry.slots(JOB) if s.startswith("entity_")]
    rolled, refused = {}, {}
    for entity_id in sorted(ids):
        try:
            rolled[entity_id] = rollback_entity(registry, entity_id, reason)
        except NoChampionError as exc:
            refused[entity_id] = str(exc)
    return {"rolled_back": rolled, "not_rolled_back": refused}


def load_booster(registry: ModelRegistry, ref: ModelRef):
    """The champion's XGBoost Booster (checksum verified by the registry)."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(registry.load_file(ref, MODEL_FILE)))
    return booster


def rollback_request(registry: ModelRegistry, entity_id: int | None, all_entities: bool, reason: str) -> dict:
    """What the UI's rollback job and the CLI ask for: exactly one of one entity or all."""
    if all_entities == (entity_id is not None):
        raise ValueError("roll back either one entity (entity_id) or all (all_entities), not both or neither")
    if all_entities:
        return rollback_all(registry, reason)
    return {"rolled_back": {entity_id: rollback_entity(registry, entity_id, reason)}, "not_rolled_back": {}}
