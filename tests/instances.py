"""Dagster instances for tests: a DAGSTER_HOME configured as the repository's (its dagster.yaml),
so a test runs on the same real SQLite storage and pools as `make run`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]


def dagster_home(path: Path) -> Path:
    """`path`, created, as a DAGSTER_HOME holding the repository's dagster.yaml."""
    path.mkdir(parents=True)
    shutil.copy(REPO / "dagster.yaml", path / "dagster.yaml")
    return path


@contextmanager
def instance_at(home: Path) -> Iterator[dg.DagsterInstance]:
    """A real SQLite Dagster instance in a new DAGSTER_HOME `home`."""
    with dg.DagsterInstance.from_config(str(dagster_home(home))) as instance:
        yield instance
