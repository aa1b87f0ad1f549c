"""The data directory: where each thing lives, and writes that are atomic.

Everything the platform reads or writes goes through `DataLayout`, so a partition's outputs
are found in one place and replaced in one step. A writer fills a hidden temporary sibling and
renames it into place; a crash leaves only a temporary that the next write of the same target
removes, never a half-written output.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

from platform_core.quarters import Quarter

SUCCESS_MARKER = "_SUCCESS"


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> "DataLayout":
        return cls(Path(root).expanduser().resolve())

    def landing(self, job: str, quarter: Quarter) -> Path:
        return self.root / "landing" / job / quarter.label

    def truth(self, job: str, quarter: Quarter) -> Path:
        """Ground truth of the synthetic world: kept apart, never read by training."""
        return self.root / "truth" / job / quarter.label

    def table(self, name: str, quarter: Quarter) -> Path:
        return self.root / "warehouse" / name / quarter.label

    def daily_landing(self, job: str, day: date) -> Path:
        return self.root / "landing" / f"{job}_daily" / day.isoformat()

    def daily_truth(self, job: str, day: date) -> Path:
        return self.root / "truth" / f"{job}_daily" / day.isoformat()

    def daily_table(self, name: str, day: date) -> Path:
        return self.root / "warehouse" / name / day.isoformat()

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.duckdb"


def _temp_sibling(target: Path) -> Path:
    return target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"


def _remove_stale_temps(target: Path) -> None:
    if target.parent.exists():
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = _temp_sibling(target)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = _temp_sibling(target)
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; it replaces `target` on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = _temp_sibling(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(target: Path, payload: object) -> None:
    with atomic_file(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def dir_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
