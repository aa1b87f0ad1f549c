"""The one Definitions object of the platform, merged from the job folders in JOBS.

Adding a job: a folder under platform_assets/ exporting `job` (platform_assets/job.py) and one
line below. Resources are bound here, once: the shared warehouse and each job's settings; and so
is the retry of transient failures, for every job's steps (common.with_step_retries).
"""

from __future__ import annotations

import dagster as dg

from platform_assets.common import STEP_RETRY, with_step_retries
from platform_assets.engagement import definitions as engagement
from platform_assets.heavy_queries import definitions as heavy_queries
from platform_assets.job import PlatformJob
from platform_assets.predict_age import definitions as predict_age
from platform_assets.readmission import definitions as readmission
from platform_assets.sensors import run_failure_alert
from platform_assets.wait_times import definitions as wait_times
from resources import Warehouse
from resources.environment import platform_environment

JOBS: list[PlatformJob] = [
    predict_age.job,
    engagement.job,
    readmission.job,
    wait_times.job,
    heavy_queries.job,
]


def build_definitions(warehouse: Warehouse, configs: dict[str, dg.ConfigurableResource] | None = None,
                      jobs: list[PlatformJob] = JOBS, retry: dg.RetryPolicy = STEP_RETRY) -> dg.Definitions:
    """Tests build their own with a temporary data directory (and settings); everyone else uses `defs`."""
    configs = configs or {}
    resources = {"warehouse": warehouse, **{j.config_key: configs.get(j.config_key) or j.config() for j in jobs}}
    return dg.Definitions.merge(with_step_retries(dg.Definitions.merge(*(j.defs for j in jobs)), retry),
                                dg.Definitions(sensors=[run_failure_alert], resources=resources))


platform_environment()  # a deployment shape with missing settings refuses to load, naming them
defs = build_definitions(Warehouse.from_env())
