"""Dagster resources: configured from environment variables, with working local defaults."""

from resources.predict_age_config import PredictAgeConfig
from resources.warehouse import Warehouse

__all__ = ["PredictAgeConfig", "Warehouse"]
