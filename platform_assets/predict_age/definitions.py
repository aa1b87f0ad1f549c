"""predict_age's definitions and what `make run JOB=predict_age` needs (see README)."""

import dagster as dg

from platform_assets.job import PlatformJob
from platform_assets.predict_age import assets, daily, jobs, sensors
from platform_assets.predict_age.config import PredictAgeConfig
from platform_assets.predict_age.keys import JOB, key
from platform_assets.predict_age.logic.generator import generate_snapshot
from platform_assets.predict_age.logic.summary import format_summary
from platform_core.periods import Quarter
from platform_core.storage import DataLayout


def _generate(layout: DataLayout, partition: str, rows: int, seed: int) -> str:
    quarter = Quarter.parse(partition)
    snap = generate_snapshot(layout.landing(JOB, quarter), layout.truth(JOB, quarter), quarter, rows, seed)
    return f"generated a synthetic {quarter.label} snapshot: {snap.rows:,} rows -> {snap.landing_dir}"


job = PlatformJob(
    name=JOB,
    defs=dg.Definitions(assets=dg.with_source_code_references(assets.assets + daily.assets), jobs=jobs.jobs, sensors=sensors.sensors,
                        schedules=sensors.schedules),
    config_key=JOB,
    config=PredictAgeConfig.from_env,
    landing=assets.landing_snapshot,
    run_selection=dg.AssetSelection.groups(JOB) - dg.AssetSelection.assets(key("landing_snapshot")),
    default_partition="2025q3",
    partition_key=lambda label: Quarter.parse(label).partition_key,
    landing_path=lambda layout, partition: layout.landing(JOB, Quarter.parse(partition)),
    generate=_generate,
    default_rows=1_000_000,
    summary=lambda recorded, layout: format_summary(recorded, catalog=layout.catalog),
)
