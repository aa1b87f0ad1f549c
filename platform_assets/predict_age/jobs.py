"""Jobs of predict_age, one per partitions definition, for launching by hand or from a schedule
with the right container size: the ECS and Kubernetes run launchers read the tags (deploy/).
Their selections come from the asset graph (by partitions definition), not a hand-written
stage list; what runs after what is the assets' automation conditions."""

from __future__ import annotations

import dagster as dg

from platform_assets.common import container_tags
from platform_assets.predict_age.keys import JOB, key

PREPARE = f"{JOB}_prepare"
BATCHES = f"{JOB}_batches"
PUBLISH = f"{JOB}_publish"
DAILY = f"{JOB}_daily"

quarterly = dg.AssetSelection.groups(JOB) - dg.AssetSelection.assets(key("landing_snapshot"))
batches = dg.AssetSelection.assets(key("prediction_batches"))
after_batches = batches.downstream(include_self=False)

prepare_job = dg.define_asset_job(
    PREPARE, selection=quarterly - batches - after_batches,
    description="Quarterly, up to the batches: validate the snapshot, build features, train and gate the models.",
    tags=container_tags(vcpu=4, memory_gib=16, max_runtime_s=4 * 3600),
)
batches_job = dg.define_asset_job(
    BATCHES, selection=batches,
    description="Quarter x batch: score one bucket with the champion model (fan out with a backfill).",
    executor_def=dg.in_process_executor,  # one step per run: a step subprocess would only add start-up time
    tags=container_tags(vcpu=2, memory_gib=4, max_runtime_s=3600),
)
publish_job = dg.define_asset_job(
    PUBLISH, selection=after_batches,
    description="Quarterly, after the batches: merge the final table, check it, publish it, QA report, clean-up.",
    tags=container_tags(vcpu=2, memory_gib=8, max_runtime_s=2 * 3600),
)
daily_job = dg.define_asset_job(
    DAILY, selection=dg.AssetSelection.groups(f"{JOB}_daily") - dg.AssetSelection.assets(key("landing_daily")),
    description="Daily: validate the day's arrivals, score them with the champion, measure drift.",
    tags=container_tags(vcpu=1, memory_gib=4, max_runtime_s=3600),
)
jobs = [prepare_job, batches_job, publish_job, daily_job]
