"""Jobs of predict_age: one per partitions definition, run in this order for a quarter."""

from __future__ import annotations

import dagster as dg

from platform_assets.common import key

PREPARE = "predict_age_prepare"
BATCHES = "predict_age_batches"
PUBLISH = "predict_age_publish"
DAILY = "predict_age_daily"

prepare_job = dg.define_asset_job(
    PREPARE,
    selection=dg.AssetSelection.assets(*(key(n) for n in ("source_snapshot", "staging_features", "training_features", "age_models",
                                                   "missing_rows_evaluation"))),
    description="Quarterly: validate the snapshot, build features, train and gate the models.",
)
batches_job = dg.define_asset_job(
    BATCHES,
    selection=dg.AssetSelection.assets(key("prediction_batches")),
    description="Quarter x batch: score one bucket with the champion model (fan out with a backfill).",
    executor_def=dg.in_process_executor,  # one step per run: a step subprocess would only add start-up time
)
publish_job = dg.define_asset_job(
    PUBLISH,
    selection=dg.AssetSelection.assets(*(key(n) for n in ("final_results", "human_qa", "prediction_batches_cleanup"))),
    description="Quarterly: merge the final table, check it, publish it, build the QA report, clean up.",
)
daily_job = dg.define_asset_job(
    DAILY,
    selection=dg.AssetSelection.assets(*(key(n) for n in ("daily_arrivals", "daily_predictions", "daily_monitoring"))),
    description="Daily: validate the day's arrivals, score them with the champion, measure drift.",
)
jobs = [prepare_job, batches_job, publish_job, daily_job]
