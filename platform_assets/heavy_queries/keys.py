"""heavy_queries' name: the prefix of its asset keys, group, views, paths and registry entries."""

import dagster as dg

from platform_assets.common import asset_key

JOB = "heavy_queries"


def key(name: str) -> dg.AssetKey:
    return asset_key(JOB, name)
