"""Jobs of predict_age: one per partitions definition, run in this order for a quarter.

Each job carries its container size and longest allowed run, read by the ECS and Kubernetes
run launchers and by run monitoring (deploy/); locally only the run time limit applies, under
the daemon (`make dev`). Sizes follow the peak memory measured in BENCHMARKS.md: the prepare
steps are DuckDB-bound (capped at 4 GB by default), a prediction batch needs well under 1 GB.
"""

from __future__ import annotations

import json

import dagster as dg

from platform_assets.common import key

PREPARE = "predict_age_prepare"
BATCHES = "predict_age_batches"
PUBLISH = "predict_age_publish"
DAILY = "predict_age_daily"


def container_tags(vcpu: int, memory_gib: int, max_runtime_s: int) -> dict[str, str]:
    resources = {"cpu": str(vcpu), "memory": f"{memory_gib}Gi"}
    return {
        "ecs/cpu": str(vcpu * 1024),
        "ecs/memory": str(memory_gib * 1024),
        "dagster-k8s/config": json.dumps({"container_config": {"resources": {"requests": resources, "limits": resources}}}),
        "dagster/max_runtime": str(max_runtime_s),
    }


prepare_job = dg.define_asset_job(
    PREPARE,
    selection=dg.AssetSelection.assets(*(key(n) for n in ("source_snapshot", "staging_features", "training_features", "age_models",
                                                   "missing_rows_evaluation"))),
    description="Quarterly: validate the snapshot, build features, train and gate the models.",
    tags=container_tags(vcpu=4, memory_gib=16, max_runtime_s=4 * 3600),
)
batches_job = dg.define_asset_job(
    BATCHES,
    selection=dg.AssetSelection.assets(key("prediction_batches")),
    description="Quarter x batch: score one bucket with the champion model (fan out with a backfill).",
    executor_def=dg.in_process_executor,  # one step per run: a step subprocess would only add start-up time
    tags=container_tags(vcpu=2, memory_gib=4, max_runtime_s=3600),
)
publish_job = dg.define_asset_job(
    PUBLISH,
    selection=dg.AssetSelection.assets(*(key(n) for n in ("final_results", "human_qa", "prediction_batches_cleanup"))),
    description="Quarterly: merge the final table, check it, publish it, build the QA report, clean up.",
    tags=container_tags(vcpu=2, memory_gib=8, max_runtime_s=2 * 3600),
)
daily_job = dg.define_asset_job(
    DAILY,
    selection=dg.AssetSelection.assets(*(key(n) for n in ("daily_arrivals", "daily_predictions", "daily_monitoring"))),
    description="Daily: validate the day's arrivals, score them with the champion, measure drift.",
    tags=container_tags(vcpu=1, memory_gib=4, max_runtime_s=3600),
)
jobs = [prepare_job, batches_job, publish_job, daily_job]
