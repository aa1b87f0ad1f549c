"""Every registered version's test and OOT figures side by side, read from registry metadata,
with the champions marked (per algorithm and overall)."""

from __future__ import annotations

import polars as pl

from platform_assets.readmission.logic.evaluation import METRICS
from platform_assets.readmission.logic.schema import JOB
from platform_core.registry import ModelRef, ModelRegistry, NoChampionError
from platform_core.storage import DataLayout, atomic_dir

COMPARISON_TABLE = "model_comparison"


def _champion_versions(registry: ModelRegistry, job: str, slot: str) -> set[str]:
    try:
        return {str(ref) for ref in registry.champion(job, slot).values()}
    except NoChampionError:
        return set()


def comparison_rows(registry: ModelRegistry, job: str = JOB) -> list[dict]:
    """One row per registered version: test and OOT metrics, samples, champion flags; best test AUC first."""
    overall = _champion_versions(registry, job, "champion")
    rows = []
    for model in registry.models(job):
        per_algorithm = _champion_versions(registry, job, model)
        for version in registry.versions(job, model):
            meta = registry.metadata(ModelRef(job, model, version))
            perf = meta.get("performance", {})
            rows.append({
                "model": model, "version": version, "training_date": meta.get("training_date"),
                "training_samples": meta.get("training_samples"), "test_samples": meta.get("test_samples"),
                "oot_samples": meta.get("oot_samples"), "feature_count": meta.get("feature_count"),
                **{f"test_{m}": perf.get("test", {}).get(m) for m in METRICS},
                **{f"oot_{m}": perf.get("oot", {}).get(m) for m in METRICS},
                "champion_of_algorithm": f"{model}/{version}" in per_algorithm,
                "overall_champion": f"{model}/{version}" in overall,
            })
    return sorted(rows, key=lambda r: (-(r["test_auc_roc"] or 0.0), r["model"], r["version"]))


def write_comparison(layout: DataLayout, registry: ModelRegistry, label: str, job: str = JOB) -> dict:
    """`model_comparison/<label>/comparison.parquet`, replaced atomically; figures for metadata."""
    rows = comparison_rows(registry, job)
    target = layout.table(job, COMPARISON_TABLE, label)
    with atomic_dir(target) as tmp:
        pl.DataFrame(rows, infer_schema_length=None).write_parquet(tmp / "comparison.parquet")
    return {"versions": len(rows), "models": sorted({r["model"] for r in rows}), "rows": rows, "path": str(target)}
