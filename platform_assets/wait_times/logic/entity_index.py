"""The entity index: per entity, its observations so far, its models, and whether it is due.

Due (the seed's rules): no model yet; or >= `min_new_observations` observations since the last
model was trained; or the last model is as old as its tier allows (critical tier daily, others
weekly). An entity that failed to train wrote no model, so the same rule keeps it due next run.
A selection overrides the rules: one entity, one tier, or all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import polars as pl

from platform_assets.wait_times.logic.tables import JOB, SCHEMAS, current_files, partition_dir
from platform_assets.wait_times.logic.versions import models_frame
from platform_core import duck
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout, atomic_dir


@dataclass(frozen=True)
class DueRules:
    min_new_observations: int = 100
    critical_age_days: int = 1
    other_age_days: int = 7


@dataclass(frozen=True)
class Selection:
    """Which entities a run trains: `due` (the rules), `all`, one `entity`, or one `tier`."""
    mode: str = "due"
    entity_id: int | None = None
    tier: int | None = None

    def __post_init__(self):
        if self.mode not in ("due", "all", "entity", "tier"):
            raise ValueError(f"selection mode must be due, all, entity or tier, got {self.mode!r}")
        if self.mode == "entity" and self.entity_id is None or self.mode == "tier" and self.tier is None:
            raise ValueError(f"selection {self.mode!r} needs its {'entity_id' if self.mode == 'entity' else 'tier'}")

    def describe(self) -> str:
        return {"due": "due entities", "all": "all entities", "entity": f"entity {self.entity_id}",
                "tier": f"tier {self.tier}"}[self.mode]


def compute_entity_index(layout: DataLayout, day: date, registry: ModelRegistry, rules: DueRules = DueRules(),
                         threads: int | None = None) -> pl.DataFrame:
    """The index as of `day` (facts through that day, the day's entity list, the registry now)."""
    facts = current_files(layout, "fact_observations", last=day)
    dim = current_files(layout, "dim_entity", first=day, last=day)
    if not dim:
        raise FileNotFoundError(f"no dim_entity partition for {day}: run the ETL of that day first")
    con = duck.connect(threads)
    try:
        duck.view(con, "facts", facts) if facts else con.execute(
            "CREATE VIEW facts AS SELECT 0::INTEGER AS entity_id, NULL::TIMESTAMP AS observed_at WHERE false")
        duck.view(con, "dim", dim)
        ids = [r[0] for r in con.execute("SELECT entity_id FROM dim").fetchall()]
        con.register("models", models_frame(registry, ids))
        frame = con.sql(duck.load_sql(JOB, "entity_index"), params={
            "day": day, "min_new_observations": rules.min_new_observations,
            "critical_age_days": rules.critical_age_days, "other_age_days": rules.other_age_days}).pl()
    finally:
        con.close()
    return frame.select([pl.col(c).cast(t) for c, t in SCHEMAS["entity_index"].items()])


def build_entity_index(layout: DataLayout, day: date, registry: ModelRegistry, rules: DueRules = DueRules(),
                       threads: int | None = None) -> dict:
    """Compute and write the day's entity_index partition; figures for the asset's metadata."""
    started = time.perf_counter()
    index = compute_entity_index(layout, day, registry, rules, threads)
    with atomic_dir(partition_dir(layout, "entity_index", day)) as tmp:
        index.write_parquet(tmp / "part-00000.parquet")
    reasons = dict(index.group_by("due_reason").len().sort("due_reason").iter_rows())
    due_by_tier = dict(index.filter("due").group_by("tier").len().sort("tier").iter_rows())
    return {"entities": len(index), "due": int(index["due"].sum()), "due_reasons": reasons,
            "due_by_tier": due_by_tier, "observations": int(index["observation_count"].sum()),
            "seconds": round(time.perf_counter() - started, 2)}


def read_entity_index(layout: DataLayout, day: date) -> pl.DataFrame:
    files = current_files(layout, "entity_index", first=day, last=day)
    if not files:
        raise FileNotFoundError(f"no entity_index partition for {day}")
    return pl.read_parquet([str(f) for f in files])


def select_entities(index: pl.DataFrame, selection: Selection = Selection()) -> pl.DataFrame:
    """The entities a run trains, in training order: tier 1 first, then by observation count,
    largest first (the longest fits start first, so the pool's tail is short)."""
    if selection.mode == "entity":
        picked = index.filter(pl.col("entity_id") == selection.entity_id)
    elif selection.mode == "tier":
        picked = index.filter(pl.col("tier") == selection.tier)
    else:
        picked = index.filter(pl.col("due")) if selection.mode == "due" else index
    if selection.mode == "entity" and picked.is_empty():
        raise ValueError(f"entity {selection.entity_id} is not in the entity index")
    return training_order(picked)


def training_order(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(["tier", "observation_count", "entity_id"], descending=[False, True, False])
