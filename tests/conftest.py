from __future__ import annotations

import shutil

import pytest

from platform_assets.predict_age.logic.generator import generate_snapshot
from platform_core.periods import Quarter
from platform_core.storage import DataLayout
from tests.instances import instance_at

QUARTER = Quarter.parse("2025q3")
SMALL_ROWS = 20_000


@pytest.fixture(scope="session")
def small_snapshot(tmp_path_factory) -> DataLayout:
    """One 20k-row synthetic quarter, generated once; tests copy it into their own data dir."""
    layout = DataLayout.at(tmp_path_factory.mktemp("snapshot"))
    generate_snapshot(layout.landing("predict_age", QUARTER), layout.truth("predict_age", QUARTER), QUARTER, SMALL_ROWS, seed=7)
    return layout


@pytest.fixture
def data_layout(tmp_path, small_snapshot) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    shutil.copytree(small_snapshot.root, layout.root)
    return layout


@pytest.fixture
def instance(tmp_path):
    """A real SQLite Dagster instance in its own DAGSTER_HOME."""
    with instance_at(tmp_path / "dagster_home") as inst:
        yield inst
