"""readmission's definitions and what `make run JOB=readmission` needs (see README)."""

import dagster as dg

from platform_assets.common import container_tags
from platform_assets.job import PlatformJob
from platform_assets.readmission import assets, sensors
from platform_assets.readmission.config import ReadmissionConfig
from platform_assets.readmission.keys import JOB, key
from platform_assets.readmission.logic.summary import format_summary
from platform_assets.readmission.logic.world import deliver_months
from platform_assets.readmission.partitions import HISTORY_START
from platform_core import memory
from platform_core.periods import month_label, parse_month
from platform_core.storage import DataLayout

run_selection = dg.AssetSelection.groups(JOB) - dg.AssetSelection.assets(key("landing_encounters"))
history = dg.AssetSelection.assets(key("encounters_silver"), key("feature_store"), key("label_store"))
monthly_job = dg.define_asset_job(f"{JOB}_monthly", selection=run_selection,
                                  description="Monthly: clean the encounters, rebuild gold, check the prerequisites, train "
                                              "when due, score and monitor the month.",
                                  tags=container_tags(vcpu=2, memory_gib=8, max_runtime_s=2 * 3600))


def _generate(layout: DataLayout, partition: str, rows: int, seed: int) -> str:
    done = deliver_months(layout, rows, seed, last=month_label(parse_month(partition)))
    return (f"generated the synthetic encounter world ({rows:,} encounters 1999-2008): {len(done['months_written'])} months, "
            f"{done['rows_written']:,} encounters -> {done['landing_area']}")


def _memory_refusal(rows: int, available: int) -> str | None:
    """Measured peaks of `make run` (BENCHMARKS.md, "Every job at ten times its demo size"): 0.71 GiB
    at 75,000 encounters, 3.56 GiB at 1,000,000, a line through them rounded up."""
    return memory.refusal(JOB, rows, lambda n: int(0.5 * memory.GIB + 3_400 * n), available,
                          "the synthetic world, generated in memory, then the train window's matrices")


job = PlatformJob(
    name=JOB,
    defs=dg.Definitions(assets=dg.with_source_code_references(assets.assets), jobs=[monthly_job], sensors=sensors.sensors),
    config_key=JOB,
    config=ReadmissionConfig.from_env,
    landing=assets.landing_encounters,
    run_selection=run_selection,
    default_partition="2009-01",
    partition_key=lambda label: parse_month(label).isoformat(),
    landing_path=lambda layout, partition: layout.landing(JOB, month_label(parse_month(partition))),
    generate=_generate,
    default_rows=75_000,
    summary=format_summary,
    memory_refusal=_memory_refusal,
    history=history,
    history_start=HISTORY_START,
)
