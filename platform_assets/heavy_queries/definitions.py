"""heavy_queries' definitions and what `make run JOB=heavy_queries` needs (see README)."""

import os
from datetime import date

import dagster as dg

from platform_assets.common import container_tags
from platform_assets.heavy_queries import assets, sensors
from platform_assets.heavy_queries.config import HeavyQueriesConfig
from platform_assets.heavy_queries.keys import JOB, key
from platform_assets.heavy_queries.logic.memory import refusal
from platform_assets.heavy_queries.logic.summary import format_summary
from platform_assets.heavy_queries.partitions import HISTORY_START
from platform_assets.job import PlatformJob
from platform_core.storage import DataLayout

run_selection = dg.AssetSelection.groups(JOB) - dg.AssetSelection.assets(key("landing_query_log"))
daily_job = dg.define_asset_job(f"{JOB}_daily", selection=run_selection,
                                description="Daily: label the day's log, rebuild the 44-day window, features, model, "
                                            "gates and the 14-day replay.",
                                tags=container_tags(vcpu=2, memory_gib=8, max_runtime_s=3600))


def _thresholds_in_use():
    """The heavy thresholds the run will label with: HEAVY_QUERIES_HEAVY_* or the settings' defaults."""
    from platform_assets.heavy_queries.logic.config import HeavyThresholds

    fields = HeavyQueriesConfig.model_fields
    return HeavyThresholds(
        cpu_ms=int(os.getenv("HEAVY_QUERIES_HEAVY_CPU_MS", fields["heavy_cpu_ms"].default)),
        peak_memory_bytes=int(os.getenv("HEAVY_QUERIES_HEAVY_PEAK_MEMORY_BYTES", fields["heavy_peak_memory_bytes"].default)))


def _generate(layout: DataLayout, partition: str, rows: int, seed: int) -> str:
    from platform_assets.heavy_queries.logic.delivery import CORPORA, generate_world

    corpus = os.getenv("HEAVY_QUERIES_CORPUS", "default")
    if corpus not in CORPORA:
        raise ValueError(f"HEAVY_QUERIES_CORPUS={corpus!r}: expected one of {', '.join(CORPORA)}")
    thresholds = _thresholds_in_use()
    done = generate_world(layout, rows, seed, CORPORA[corpus], thresholds=thresholds,
                          log=lambda line: print(f"  {line}", flush=True))
    f = done.figures
    built = "reused" if f["corpus_reused"] else f"built in {f['corpus_seconds']:.0f}s"
    return (f"measured corpus ({corpus}): {f['corpus_executions']:,} executions ({built}); "
            f"query log: {len(done.written)} days, {done.rows:,} rows -> {layout.landing_area(JOB)}; "
            f"heavy thresholds in use: {thresholds.cpu_ms:,} ms CPU / {thresholds.peak_memory_bytes:,} bytes peak memory "
            f"(HEAVY_QUERIES_HEAVY_CPU_MS / _PEAK_MEMORY_BYTES), {100 * f['heavy_rate']:.2f}% of the log's valid rows "
            f"heavy under them")


job = PlatformJob(
    name=JOB,
    defs=dg.Definitions(assets=dg.with_source_code_references(assets.assets), jobs=[daily_job], sensors=sensors.sensors),
    config_key=JOB,
    config=HeavyQueriesConfig.from_env,
    landing=assets.landing_query_log,
    run_selection=run_selection,
    default_partition="2025-10-14",
    partition_key=lambda label: date.fromisoformat(label).isoformat(),
    landing_path=lambda layout, partition: layout.landing(JOB, partition),
    generate=_generate,
    default_rows=2_000,
    summary=format_summary,
    memory_refusal=lambda rows, available: refusal(rows, HeavyQueriesConfig.from_env().max_sample_rows, available),
    history=dg.AssetSelection.assets(key("labelled_queries")),
    history_start=HISTORY_START,
)
