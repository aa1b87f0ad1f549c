"""staging_features is written as one stream of files placed in bucket directories: the buckets
partition the pids (each pid in exactly one) with rows within about one file of an equal share."""

import polars as pl
import pytest

from platform_assets.predict_age.logic.generator import generate_chunk
from platform_assets.predict_age.logic.source import build_source_snapshot
from platform_assets.predict_age.logic.staging import assign_files, bucket_dir, build_staging_features, file_layout
from platform_core.storage import SUCCESS_MARKER, current
from tests.conftest import QUARTER


def stage(tmp_path, rows: int, buckets: int) -> dict:
    landing = tmp_path / "landing"
    landing.mkdir()
    pl.from_arrow(generate_chunk(QUARTER.start, rows, 0, seed=3, pid_start=1)[0]).write_parquet(landing / "part-0.parquet")
    (landing / SUCCESS_MARKER).write_text("")
    build_source_snapshot(landing, tmp_path / "source", QUARTER.start, 18, 100)
    return build_staging_features(current(tmp_path / "source"), tmp_path / "staging", QUARTER.start, buckets)


@pytest.mark.parametrize("rows, buckets", [(60_000, 8), (60_000, 3), (300, 8)])
def test_buckets_partition_the_pids(tmp_path, rows, buckets):
    stats = stage(tmp_path, rows, buckets)
    staging = current(tmp_path / "staging")
    slices = [pl.read_parquet(bucket_dir(staging, b) / "*.parquet") for b in range(buckets)]
    pids = pl.concat([s["pid"] for s in slices])
    assert pids.len() == pids.n_unique() == rows == stats["rows"]
    assert all(s.columns == slices[0].columns and "bucket" not in s.columns for s in slices)  # empty slices keep the schema
    counts = [s.height for s in slices]
    assert counts == [stats["rows_per_bucket"].get(b, 0) for b in range(buckets)]
    if rows >= 10_000:
        assert max(counts) <= 1.35 * rows / buckets and min(counts) >= 0.65 * rows / buckets


def test_file_layout_and_assignment():
    assert file_layout(10_000_000, 8) == (104_167, 3)
    assert file_layout(1_000, 8) == (2_048, 1)
    assert assign_files([100] * 8, 4) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert assign_files([100, 100, 10], 2) == [0, 1, 1]
    assert assign_files([5], 8) == [4]
    assert assign_files([0], 3) == [0]
