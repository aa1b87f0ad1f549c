"""Per-entity model quality as of a day: each entity's current model (version, day trained,
validation MAE and RMSE, trees, rows) from the registry, how it is forecast (model or which
fallback), and what the day's training did with it. Written with the forecasts; the catalog view
`wait_times_model_quality` shows the latest."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import polars as pl

from platform_assets.wait_times.logic.entity_index import read_entity_index
from platform_assets.wait_times.logic.tables import SCHEMAS, current_files, partition_dir, read_day
from platform_assets.wait_times.logic.versions import champion_ref
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout, atomic_dir

FROM_MODEL = ("mae", "rmse", "trees", "train_rows", "valid_rows")


def _champion(registry: ModelRegistry, entity_id: int) -> dict:
    ref = champion_ref(registry, entity_id)
    if ref is None:
        return {"entity_id": entity_id}
    meta = registry.metadata(ref)
    return {"entity_id": entity_id, "model_version": ref.version, "trained_on": date.fromisoformat(meta["trained_on"]),
            **{k: meta.get(k) for k in FROM_MODEL}}


def build_model_quality(layout: DataLayout, day: date, registry: ModelRegistry, forecasts: pl.DataFrame,
                        threads: int = 8) -> pl.DataFrame:
    """Compute and write the day's `model_quality` partition (one row per entity of the day's index)."""
    index = read_entity_index(layout, day).select("entity_id", "park", "tier", "observation_count")
    with ThreadPoolExecutor(threads) as pool:
        champions = list(pool.map(lambda e: _champion(registry, e), index["entity_id"].to_list()))
    models = pl.DataFrame(champions, schema={c: SCHEMAS["model_quality"][c] for c in ("entity_id", "model_version",
                                                                                      "trained_on", *FROM_MODEL)})
    sources = forecasts.group_by("entity_id").agg(pl.col("forecast_source").first())
    results = (read_day(layout, "training_results", day).select("entity_id", pl.col("status").alias("last_status"),
                                                                pl.col("reason").alias("last_reason"))
               if current_files(layout, "training_results", day, day) else
               pl.DataFrame(schema={"entity_id": pl.Int32, "last_status": pl.String, "last_reason": pl.String}))
    frame = (index.join(models, on="entity_id", how="left").join(sources, on="entity_id", how="left")
             .join(results, on="entity_id", how="left").select(list(SCHEMAS["model_quality"])).cast(SCHEMAS["model_quality"])
             .sort("tier", "entity_id"))
    with atomic_dir(partition_dir(layout, "model_quality", day)) as tmp:
        frame.write_parquet(tmp / "part-00000.parquet")
    return frame
