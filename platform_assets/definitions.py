"""The one Definitions object of the platform."""

from __future__ import annotations

import dagster as dg

from platform_assets import predict_age
from platform_assets.jobs import jobs
from resources import PredictAgeConfig, Warehouse


def build_definitions(warehouse: Warehouse, predict_age_config: PredictAgeConfig) -> dg.Definitions:
    """Tests build their own with a temporary data directory; everyone else uses `defs`."""
    return dg.Definitions(
        assets=predict_age.assets,
        jobs=jobs,
        resources={"warehouse": warehouse, "predict_age": predict_age_config},
    )


defs = build_definitions(Warehouse.from_env(), PredictAgeConfig.from_env())
