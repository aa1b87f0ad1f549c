"""The one Definitions object of the platform, merged from the job folders it discovers.

A job is a folder under platform_assets/ whose `definitions` module exports `job`
(platform_assets/job.py); adding one edits no file here. Resources are bound here, once: the shared
warehouse and each job's settings; and so is the retry of transient failures, for every job's
steps (common.with_step_retries).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import dagster as dg

from platform_assets.common import STEP_RETRY, with_step_retries
from platform_assets.job import PlatformJob
from platform_assets.sensors import run_failure_alert
from resources import Warehouse
from resources.environment import platform_environment


def discover_jobs(folder: Path = Path(__file__).parent, package: str = __package__) -> list[PlatformJob]:
    """Every sub-package of `folder` with a `definitions` module exporting `job`, by name."""
    jobs = []
    for sub in sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if m.ispkg):
        if (folder / sub / "definitions.py").exists():
            job = getattr(importlib.import_module(f"{package}.{sub}.definitions"), "job", None)
            if not isinstance(job, PlatformJob) or job.name != sub:
                raise TypeError(f"{package}.{sub}.definitions must export job = PlatformJob(name={sub!r}, ...)")
            jobs.append(job)
    return jobs


JOBS: list[PlatformJob] = discover_jobs()


def build_definitions(warehouse: Warehouse, configs: dict[str, dg.ConfigurableResource] | None = None,
                      jobs: list[PlatformJob] = JOBS, retry: dg.RetryPolicy = STEP_RETRY) -> dg.Definitions:
    """Tests build their own with a temporary data directory (and settings); everyone else uses `defs`."""
    configs = configs or {}
    resources = {"warehouse": warehouse, **{j.config_key: configs.get(j.config_key) or j.config() for j in jobs}}
    return dg.Definitions.merge(with_step_retries(dg.Definitions.merge(*(j.defs for j in jobs)), retry),
                                dg.Definitions(sensors=[run_failure_alert], resources=resources))


platform_environment()  # a deployment shape with missing settings refuses to load, naming them
defs = build_definitions(Warehouse.from_env())
