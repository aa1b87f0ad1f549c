"""Declarative automation evaluated the way the daemon evaluates it: a delivery runs the whole
quarter, and after a re-delivery a failed batch never lets a stale quarter be published."""

import os
import time

import dagster as dg

import platform_assets.predict_age.assets as wiring
from platform_assets.predict_age.keys import key
from platform_assets.predict_age.sensors import snapshot_sensor
from platform_core.storage import SUCCESS_MARKER
from tests.conftest import QUARTER
from tests.predict_age.helpers import definitions
from tests.predict_age.test_sensors import tick


class Daemon:
    """One automation tick at a time; each requested asset partition runs in process, as the
    automation sensor's runs would (one run per asset partition)."""

    def __init__(self, defs, instance):
        self.defs, self.instance = defs, instance
        self.job = defs.resolve_implicit_global_asset_job_def()
        self.cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        self.requested: list[tuple[str, str]] = []

    def deliver(self, layout):
        for event in tick(snapshot_sensor, layout, self.instance).asset_events:
            self.instance.report_runless_asset_event(event)

    def run_until_idle(self, ticks: int = 12) -> list[tuple[str, str]]:
        done = []
        for _ in range(ticks):
            result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
            self.cursor = result.cursor
            requests = [(r.key, p) for r in result.results if r.true_subset.size
                        for p in sorted(r.true_subset.expensively_compute_partition_keys())]
            if not requests:
                return done
            for asset, partition in requests:
                self.run(asset, partition)
                done.append((asset.path[-1], partition))
        raise AssertionError(f"automation still requesting after {ticks} ticks: {done[-5:]}")

    def run(self, asset: dg.AssetKey, partition: str):
        return self.job.get_subset(asset_selection={asset}).execute_in_process(
            instance=self.instance, partition_key=partition, raise_on_error=False)


def materializations(instance, name: str, partition: str) -> int:
    return len(instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key(name), asset_partitions=[partition]), limit=100).records)


def test_a_failed_batch_after_a_redelivery_never_publishes_a_stale_quarter(data_layout, instance, monkeypatch):
    defs = definitions(data_layout, xgb_rounds=60, xgb_max_depth=6)
    daemon = Daemon(defs, instance)
    daemon.deliver(data_layout)
    first = daemon.run_until_idle()
    names = [name for name, _ in first]
    assert names.index("age_models") < names.index("prediction_batches") < names.index("final_results")
    assert names.count("prediction_batches") == 8
    assert materializations(instance, "final_results", QUARTER.partition_key) == 1

    # re-delivery; this time batch 001 fails
    predict = wiring.predict_batch

    def failing(staging, bucket, *args, **kwargs):
        if bucket == 1:
            raise OSError("disk full while writing batch 001")
        return predict(staging, bucket, *args, **kwargs)

    monkeypatch.setattr(wiring, "predict_batch", failing)
    marker = data_layout.landing("predict_age", QUARTER) / SUCCESS_MARKER
    later = time.time() + 5
    os.utime(marker, (later, later))
    daemon.deliver(data_layout)
    second = daemon.run_until_idle()
    assert ("prediction_batches", f"001|{QUARTER.partition_key}") in second
    assert "final_results" not in [name for name, _ in second]  # blocked: never published over a stale batch
    assert materializations(instance, "final_results", QUARTER.partition_key) == 1

    # the batch is retried (the fault gone); then, and only then, the quarter is published
    monkeypatch.setattr(wiring, "predict_batch", predict)
    assert daemon.run(key("prediction_batches"), f"001|{QUARTER.partition_key}").success
    third = daemon.run_until_idle()
    assert ("final_results", QUARTER.partition_key) in third
    assert materializations(instance, "final_results", QUARTER.partition_key) == 2


def test_a_failed_blocking_check_blocks_its_own_quarter_only(data_layout, instance):
    """Checks are partitioned like their asset: a broken 2025q2 delivery stops 2025q2 at its source
    check, and 2025q3 beside it still runs to publication (and does not unblock 2025q2)."""
    import shutil

    import polars as pl

    broken = data_layout.landing("predict_age", QUARTER.previous())
    shutil.copytree(data_layout.landing("predict_age", QUARTER), broken)
    for part in broken.glob("*.parquet"):
        pl.read_parquet(part).with_columns(pl.lit("x").alias("approximate_age")).write_parquet(part)
    daemon = Daemon(definitions(data_layout, xgb_rounds=60, xgb_max_depth=6), instance)
    daemon.deliver(data_layout)
    done = daemon.run_until_idle()
    q2, q3 = QUARTER.previous().partition_key, QUARTER.partition_key
    assert [name for name, p in done if p == q2] == ["source_snapshot"]  # failed usable_age_rate: nothing after it
    assert ("final_results", q3) in done
    assert materializations(instance, "staging_features", q2) == 0
