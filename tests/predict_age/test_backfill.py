"""A quarter as separate runs per batch, with one batch failing and re-executed alone, ends in
the same final table as an undisturbed end-to-end run."""

import shutil

import dagster as dg
import duckdb
import pytest

from platform_assets.predict_age.jobs import BATCHES, PREPARE, PUBLISH
from platform_assets.predict_age.logic.staging import bucket_dir
from platform_assets.predict_age.partitions import batch_partitions
from platform_core.storage import current
from tests.conftest import QUARTER
from tests.predict_age.helpers import definitions, run_quarter
from tests.predict_age.test_quarter_end_to_end import CONTENT_HASH


def content(layout):
    with duckdb.connect(str(layout.catalog), read_only=True) as con:
        return con.execute(CONTENT_HASH).fetchone()


def test_failed_batch_rerun_alone_gives_the_undisturbed_table(data_layout, instance, tmp_path):
    other = data_layout.__class__.at(tmp_path / "second")
    shutil.copytree(data_layout.root, other.root)
    run_quarter(QUARTER, instance, definitions(data_layout))
    reference = content(data_layout)

    defs = definitions(other)
    assert defs.resolve_job_def(PREPARE).execute_in_process(instance=instance, partition_key=QUARTER.partition_key).success
    broken = next(bucket_dir(current(other.table("predict_age", "staging_features", QUARTER)), 3).glob("*.parquet"))
    saved = broken.read_bytes()
    broken.write_bytes(b"not parquet")  # batch 003 fails reading its slice
    for batch in batch_partitions.get_partition_keys():
        run = defs.resolve_job_def(BATCHES).execute_in_process(
            instance=instance, partition_key=dg.MultiPartitionKey({"batch": batch, "quarter": QUARTER.partition_key}),
            raise_on_error=False)
        assert run.success == (batch != "003")
    with pytest.raises(Exception, match="batch\\(es\\) 003 not materialized"):
        defs.resolve_job_def(PUBLISH).execute_in_process(instance=instance, partition_key=QUARTER.partition_key)
    assert not other.catalog.exists()  # nothing half-published

    broken.write_bytes(saved)
    retry = dg.MultiPartitionKey({"batch": "003", "quarter": QUARTER.partition_key})
    assert defs.resolve_job_def(BATCHES).execute_in_process(instance=instance, partition_key=retry).success
    assert defs.resolve_job_def(PUBLISH).execute_in_process(instance=instance, partition_key=QUARTER.partition_key).success
    assert content(other) == reference
