"""wait_times' definitions and what `make run JOB=wait_times` needs (see README)."""

from datetime import date

import dagster as dg

from platform_assets.common import container_tags
from platform_assets.job import PlatformJob
from platform_assets.wait_times import assets, sensors
from platform_assets.wait_times.config import WaitTimesConfig
from platform_assets.wait_times.keys import JOB, key
from platform_assets.wait_times.logic.summary import format_summary, from_run
from platform_assets.wait_times.partitions import HISTORY_START
from platform_core.storage import DataLayout
from platform_core.summary import check_line

run_selection = dg.AssetSelection.groups(JOB) - dg.AssetSelection.assets(key("landing_observations"))
daily_job = dg.define_asset_job(f"{JOB}_daily", selection=run_selection,
                                description="Daily: ETL the day, index the entities, train the due ones in a pool, "
                                            "forecast the next days and the WTI.",
                                tags=container_tags(vcpu=2, memory_gib=8, max_runtime_s=3600))
FULL_ROWS, FULL_ENTITIES = 20_000_000, 1_700


def world_params(rows: int, seed: int):
    """The world `make run` generates: ~20M observations over 1,700 entities by default; other
    ROWS keep the observations per entity and scale the entity count (at least 30). Memory stays
    bounded at any count: DuckDB's limit, one day generated at a time, one entity per worker."""
    from platform_assets.wait_times.logic.world import WorldParams

    entities = max(30, round(FULL_ENTITIES * rows / FULL_ROWS))
    return WorldParams(seed=seed, entities=entities, start=HISTORY_START)


def _generate(layout: DataLayout, partition: str, rows: int, seed: int) -> str:
    from platform_assets.wait_times.logic.delivery import deliver_history

    params = world_params(rows, seed)
    done = deliver_history(layout, params, last=date.fromisoformat(partition))
    span = done["first"] if done["days"] == 1 else f"{done['first']} to {done['last']}"
    return (f"generated {done['days']:,} day{'s' if done['days'] != 1 else ''} of the wait-time world "
            f"({params.entities:,} entities, seed {seed}): {span}, {done['observations']:,} observations "
            f"-> {layout.landing_area(JOB)}")


def _summary(recorded: dict, layout: DataLayout) -> str:
    return format_summary(from_run(recorded)) + "\n" + check_line(recorded["checks"])


job = PlatformJob(
    name=JOB,
    defs=dg.Definitions(assets=dg.with_source_code_references(assets.assets), jobs=[daily_job, assets.rollback_job],
                        sensors=sensors.sensors),
    config_key=JOB,
    config=WaitTimesConfig.from_env,
    landing=assets.landing_observations,
    run_selection=run_selection,
    default_partition="2025-08-31",
    partition_key=lambda label: date.fromisoformat(label).isoformat(),
    landing_path=lambda layout, partition: layout.landing(JOB, partition),
    generate=_generate,
    default_rows=FULL_ROWS,
    summary=_summary,
    history=dg.AssetSelection.assets(key("fact_observations"), key("dimensions"), key("posted_aggregates")),
    history_start=HISTORY_START,
)
