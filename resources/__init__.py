"""Dagster resources shared by every job: the warehouse (data directory, registry, catalog).
Each job's own settings resource lives in its folder (platform_assets/<job>/config.py)."""

from resources.warehouse import Warehouse

__all__ = ["Warehouse"]
