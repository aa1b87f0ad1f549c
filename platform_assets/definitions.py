"""The one Definitions object of the platform."""

from __future__ import annotations

import dagster as dg

from platform_assets import predict_age
from platform_assets.jobs import jobs
from resources import PredictAgeConfig, Warehouse

defs = dg.Definitions(
    assets=predict_age.assets,
    jobs=jobs,
    resources={"warehouse": Warehouse.from_env(), "predict_age": PredictAgeConfig.from_env()},
)
