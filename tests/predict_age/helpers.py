"""Shared by predict_age's tests: definitions on a test data directory, and a quarter run the
way `make run` runs it."""

import dagster as dg

from platform_assets.definitions import build_definitions
from platform_assets.predict_age import definitions as predict_age
from platform_assets.predict_age.config import PredictAgeConfig
from platform_assets.run import run_partition
from platform_core.periods import Quarter
from resources import Warehouse


def definitions(layout, **config) -> dg.Definitions:
    return build_definitions(Warehouse(data_dir=str(layout.root)), {"predict_age": PredictAgeConfig(**config)})


def run_quarter(quarter: Quarter, instance: dg.DagsterInstance, defs: dg.Definitions) -> dict:
    return run_partition(predict_age.job, quarter.partition_key, instance, defs, progress=lambda _line: None)
