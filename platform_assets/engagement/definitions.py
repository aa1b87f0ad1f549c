"""engagement's definitions and what `make run JOB=engagement` needs (see README)."""

import dagster as dg

from platform_assets.common import container_tags
from platform_assets.engagement import assets, sensors
from platform_assets.engagement.config import EngagementConfig
from platform_assets.engagement.keys import JOB, key
from platform_assets.engagement.logic.delivery import deliver_month
from platform_assets.engagement.logic.summary import format_summary
from platform_assets.job import PlatformJob
from platform_core import memory
from platform_core.periods import month_label, parse_month
from platform_core.storage import DataLayout

run_selection = dg.AssetSelection.groups(JOB) - dg.AssetSelection.assets(key("landing_customers"))
monthly_job = dg.define_asset_job(f"{JOB}_monthly", selection=run_selection,
                                  description="Monthly: validate the customers, train and gate the model, score and publish.",
                                  tags=container_tags(vcpu=2, memory_gib=8, max_runtime_s=2 * 3600))


def _generate(layout: DataLayout, partition: str, rows: int, seed: int) -> str:
    label = month_label(parse_month(partition))
    done = deliver_month(layout.landing(JOB, label), layout.truth(JOB, label), parse_month(partition), rows, seed)
    return (f"generated a synthetic {label} delivery: {done.labelled:,} labelled and {done.to_score:,} new customers "
            f"-> {done.landing_dir}")


def _memory_refusal(rows: int, available: int) -> str | None:
    """Measured peaks of `make run` (BENCHMARKS.md, "Every job at ten times its demo size"): 0.70 GiB
    at 100,000 labelled customers, 3.13 GiB at 1,000,000 (each with a fifth as many new ones), a
    line through them rounded up."""
    return memory.refusal(JOB, rows, lambda n: int(0.5 * memory.GIB + 3_000 * n), available,
                          "the month's customers, labelled and new, held while validated, selected, searched and scored")


job = PlatformJob(
    name=JOB,
    defs=dg.Definitions(assets=dg.with_source_code_references(assets.assets), jobs=[monthly_job], sensors=sensors.sensors),
    config_key=JOB,
    config=EngagementConfig.from_env,
    landing=assets.landing_customers,
    run_selection=run_selection,
    default_partition="2025-07",
    partition_key=lambda label: parse_month(label).isoformat(),
    landing_path=lambda layout, partition: layout.landing(JOB, month_label(parse_month(partition))),
    generate=_generate,
    default_rows=100_000,
    summary=format_summary,
    memory_refusal=_memory_refusal,
)
