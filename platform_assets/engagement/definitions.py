"""engagement's definitions and what `make run JOB=engagement` needs (see README)."""

import dagster as dg

from platform_assets.common import container_tags
from platform_assets.engagement import assets, sensors
from platform_assets.engagement.config import EngagementConfig
from platform_assets.engagement.keys import JOB, key
from platform_assets.engagement.logic.delivery import deliver_month
from platform_assets.engagement.logic.summary import format_summary
from platform_assets.job import PlatformJob
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
)
