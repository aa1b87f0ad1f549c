"""PLATFORM_ENV: which deployment shape this process belongs to, chosen by environment only.

  local  data on local disk, Dagster's instance in SQLite (dagster.yaml), runs on this host
  s3     data in object storage, instance in PostgreSQL (deploy/s3), runs on this host
  ecs    as s3, every run in its own ECS task (deploy/ecs)
  k8s    as s3, every run in its own Kubernetes Job (deploy/k8s)

The assets, jobs and definitions are the same in every shape; only the instance file and the
variables below differ. A shape whose variables are missing refuses to load, naming them.
"""

from __future__ import annotations

import os
from typing import Mapping

ENVIRONMENTS = ("local", "s3", "ecs", "k8s")
REMOTE_NEEDS = {
    "PLATFORM_DATA_DIR": "s3://bucket/prefix of landing/, warehouse/, models/ and catalog.duckdb",
    "DAGSTER_PG_URL": "postgresql+psycopg2://user:password@host:5432/db for Dagster's instance",
    "PLATFORM_LOG_BUCKET": "bucket for step logs",
}


class PlatformEnvironmentError(RuntimeError):
    pass


def platform_environment(env: Mapping[str, str] = os.environ) -> str:
    """The validated PLATFORM_ENV (default `local`)."""
    name = env.get("PLATFORM_ENV", "local")
    if name not in ENVIRONMENTS:
        raise PlatformEnvironmentError(f"PLATFORM_ENV={name!r} is not one of {', '.join(ENVIRONMENTS)}")
    if name == "local":
        return name
    missing = [f"{var} ({what})" for var, what in REMOTE_NEEDS.items() if not env.get(var)]
    if env.get("PLATFORM_DATA_DIR") and not env["PLATFORM_DATA_DIR"].startswith("s3://"):
        missing.append(f"PLATFORM_DATA_DIR as s3://... (got {env['PLATFORM_DATA_DIR']!r})")
    if missing:
        raise PlatformEnvironmentError(f"PLATFORM_ENV={name} needs: " + "; ".join(missing))
    return name

