"""readmission's name: the prefix of its asset keys, group, views, paths and registry entries."""

import dagster as dg

from platform_assets.common import asset_key
from platform_assets.readmission.logic.schema import JOB

__all__ = ["JOB", "key"]


def key(name: str) -> dg.AssetKey:
    return asset_key(JOB, name)
