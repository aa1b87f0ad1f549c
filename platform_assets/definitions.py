"""The one Definitions object of the platform."""

from __future__ import annotations

import dagster as dg

from platform_assets import daily, predict_age
from platform_assets.jobs import jobs
from platform_assets.sensors import schedules, sensors
from resources import PredictAgeConfig, Warehouse
from resources.environment import platform_environment


def build_definitions(warehouse: Warehouse, predict_age_config: PredictAgeConfig) -> dg.Definitions:
    """Tests build their own with a temporary data directory; everyone else uses `defs`."""
    return dg.Definitions(
        assets=predict_age.assets + daily.assets,
        jobs=jobs,
        sensors=sensors,
        schedules=schedules,
        resources={"warehouse": warehouse, "predict_age": predict_age_config},
    )


platform_environment()  # a deployment shape with missing settings refuses to load, naming them
defs = build_definitions(Warehouse.from_env(), PredictAgeConfig.from_env())
