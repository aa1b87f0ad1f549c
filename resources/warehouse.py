"""The warehouse resource: the one door to the data directory, the model registry and the
DuckDB catalog, on local disk or object storage (`s3://...`) without a change to the assets."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from platform_core import duck
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout, Location
from resources.settings import env_fields


class Warehouse(dg.ConfigurableResource):
    data_dir: str = Field(
        default="data",
        description="Root of landing/, warehouse/, models/ and catalog.duckdb: a directory or s3://bucket/prefix "
                    "(env PLATFORM_DATA_DIR).",
    )
    threads: int = Field(default=2, description="DuckDB threads per step (env PLATFORM_THREADS).")

    @classmethod
    def from_env(cls) -> "Warehouse":
        """Settings that are set become `dg.EnvVar`s, resolved where the run executes (a container's
        environment, not the code server's); unset ones keep the local defaults."""
        return cls(**env_fields(cls, {"data_dir": "PLATFORM_DATA_DIR", "threads": "PLATFORM_THREADS"}))

    def layout(self) -> DataLayout:
        return DataLayout.at(self.data_dir)

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.layout().models)

    def publish_views(self, views: dict[str, Location | list[Location]]) -> None:
        """Replace catalog views in one transaction. Callers sit in the `duckdb_catalog` pool
        (limit 1), the catalog file's only writers."""
        duck.publish_views(self.layout().catalog, views)
