from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest

from platform_assets.wait_times.logic.delivery import deliver_history
from platform_assets.wait_times.logic.etl import process_days
from platform_assets.wait_times.logic.world import WorldParams
from platform_core.storage import DataLayout

# 40 entities over 8 days, about 2,000 observations a day: small enough for seconds, big enough to train.
SMALL = WorldParams(seed=11, entities=40, start="2025-06-01", history_days=8, target_rows=60_000_000)


def small_days():
    start = date.fromisoformat(SMALL.start)
    return [start + timedelta(days=k) for k in range(SMALL.history_days)]


@pytest.fixture(scope="session")
def delivered(tmp_path_factory) -> DataLayout:
    """The small world's history delivered (landing folders and world parameters), generated once."""
    layout = DataLayout.at(tmp_path_factory.mktemp("wait_times_delivered"))
    deliver_history(layout, SMALL)
    return layout


@pytest.fixture(scope="session")
def processed(tmp_path_factory, delivered) -> DataLayout:
    layout = DataLayout.at(tmp_path_factory.mktemp("wait_times_processed") / "data")
    shutil.copytree(delivered.root, layout.root)
    process_days(layout, small_days())
    return layout


@pytest.fixture
def layout(tmp_path, processed) -> DataLayout:
    """A private copy of the processed small world (tests write models and tables)."""
    copy = DataLayout.at(tmp_path / "data")
    shutil.copytree(processed.root, copy.root)
    return copy
