"""Retries without a person: a step whose first attempt loses its connection runs again on its
own and the quarter equals an undisturbed one; a bad delivery or a failed blocking check fails on
its first attempt and its run is not marked for a retry."""

import shutil
import socket

import boto3
import botocore.config
import dagster as dg
import duckdb
import polars as pl
import pytest

from platform_assets.common import RUN_RETRY_TAG, STEP_RETRY
from platform_assets.definitions import build_definitions
from platform_assets.predict_age import definitions as predict_age
from platform_assets.predict_age.logic.generator import generate_chunk
from platform_assets.run import JobRunFailed, run_partition
from platform_core import duck
from platform_core.contract import ContractError
from platform_core.storage import SUCCESS_MARKER, DataLayout
from platform_core.transient import is_transient
from resources import Warehouse
from tests.conftest import QUARTER
from tests.fixtures import toy_job
from tests.predict_age.helpers import definitions, run_quarter
from tests.predict_age.test_quarter_end_to_end import CONTENT_HASH

FAST = dg.RetryPolicy(max_retries=2, delay=0.2, backoff=dg.Backoff.EXPONENTIAL)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raised(action) -> BaseException:
    try:
        action()
    except Exception as error:
        return error
    raise AssertionError("nothing raised")


def test_a_database_that_does_not_answer_is_transient():
    psycopg2 = pytest.importorskip("psycopg2", reason="the PostgreSQL client comes with the deploy and integration extras")
    port = closed_port()
    assert is_transient(raised(lambda: psycopg2.connect(host="127.0.0.1", port=port, connect_timeout=1)))


def test_connection_and_timeout_errors_are_transient_and_user_errors_are_not(tmp_path):
    port = closed_port()
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id="k",
                      aws_secret_access_key="s", config=botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=1))
    assert is_transient(raised(lambda: s3.list_objects_v2(Bucket="platform")))  # EndpointConnectionError
    assert is_transient(raised(lambda: socket.create_connection(("127.0.0.1", port), timeout=1)))
    assert is_transient(TimeoutError("read timed out"))

    def wrapped():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError as error:
            raise RuntimeError("upload failed") from error
    assert is_transient(raised(wrapped))  # judged by what it was raised from

    missing = raised(lambda: duckdb.connect().execute(f"SELECT * FROM '{tmp_path}/none/*.parquet'"))
    assert isinstance(missing, duckdb.IOException) and not is_transient(missing)  # a file that is not there stays away
    assert not is_transient(raised(lambda: open(tmp_path / "absent.parquet", "rb")))

    def contract_over_a_flaky_link():
        try:
            raise ConnectionError("reset")
        except ConnectionError:
            raise ContractError("part-00000.parquet: missing required column(s) birth_year")
    assert not is_transient(raised(contract_over_a_flaky_link))
    assert not is_transient(ZeroDivisionError())

    def bug_while_handling_a_dropped_connection():
        try:
            raise ConnectionError("reset")
        except ConnectionError:
            raise RuntimeError("a bug in the handler")
    assert not is_transient(raised(bug_while_handling_a_dropped_connection))  # not raised *from* it

    def http(status: int) -> duckdb.HTTPException:
        error = duckdb.HTTPException(f"HTTP {status}")
        error.status_code = status
        return error
    assert is_transient(http(503)) and is_transient(http(429))
    assert not is_transient(http(404)) and not is_transient(http(403))  # a missing object or bad credentials stay so
    assert not is_transient(duckdb.IOException("IO Error: Could not write file: No space left on device"))


def final_hash(layout: DataLayout):
    with duckdb.connect(str(layout.catalog), read_only=True) as con:
        return con.execute(CONTENT_HASH).fetchone()


def attempts(instance: dg.DagsterInstance, run_ids: list[str], event: dg.DagsterEventType) -> list[str]:
    return [r.event_log_entry.dagster_event.step_key for run_id in run_ids
            for r in instance.get_records_for_run(run_id, of_type=event).records]


def test_a_dropped_connection_is_retried_and_the_quarter_equals_an_undisturbed_run(data_layout, instance, tmp_path,
                                                                                   monkeypatch):
    disturbed = DataLayout.at(tmp_path / "disturbed")
    shutil.copytree(data_layout.root, disturbed.root)
    run_quarter(QUARTER, instance, definitions(data_layout))
    reference = final_hash(data_layout)

    real, dropped = duck.publish_views, []

    def drops_the_first_publish(catalog, views):  # the catalog upload of an object store, reset by the peer once
        if not dropped:
            dropped.append(sorted(views))
            raise ConnectionError(f"connection reset by peer while uploading {catalog} (injected)")
        return real(catalog, views)

    monkeypatch.setattr(duck, "publish_views", drops_the_first_publish)
    recorded = run_quarter(QUARTER, instance, definitions(disturbed))  # the production policy: first retry ~5 s later

    assert dropped == [["predict_age_final_results_2025q3"]]
    assert attempts(instance, recorded["runs"], dg.DagsterEventType.STEP_UP_FOR_RETRY) == ["predict_age__final_results"]
    assert attempts(instance, recorded["runs"], dg.DagsterEventType.STEP_RESTARTED) == ["predict_age__final_results"]
    assert final_hash(disturbed) == reference and reference[0] == 20_000
    assert all(dg.DagsterRunStatus.SUCCESS == instance.get_run_by_id(r).status for r in recorded["runs"])
    assert STEP_RETRY.max_retries == 3 and STEP_RETRY.backoff == dg.Backoff.EXPONENTIAL and STEP_RETRY.jitter


def test_a_connection_that_stays_down_fails_after_the_policys_attempts(tmp_path, instance, monkeypatch):
    layout, calls = DataLayout.at(tmp_path / "data"), []

    def always_down(catalog, views):
        calls.append(catalog)
        raise ConnectionError("connection refused (injected)")

    monkeypatch.setattr(duck, "publish_views", always_down)
    toy_job.job.generate(layout, "2025-03-01", 5, 0)
    defs = build_definitions(Warehouse(data_dir=str(layout.root)), jobs=[toy_job.job], retry=FAST)
    with pytest.raises(JobRunFailed, match=r"toy_job__doubled: ConnectionError: connection refused"):
        run_partition(toy_job.job, "2025-03-01", instance, defs, progress=lambda _line: None)
    assert len(calls) == FAST.max_retries + 1
    run = instance.get_runs(limit=1)[0]
    assert attempts(instance, [run.run_id], dg.DagsterEventType.STEP_UP_FOR_RETRY) == ["toy_job__doubled"] * FAST.max_retries
    # an in-process run (`make run`) has no origin the daemon could re-launch it from: not marked for run retries
    assert run.tags.get("dagster/will_retry") == "false" and RUN_RETRY_TAG not in run.tags


def deliver(layout: DataLayout, frame: pl.DataFrame) -> None:
    landing = layout.landing("predict_age", QUARTER)
    landing.mkdir(parents=True)
    frame.write_parquet(landing / "part-00000.parquet")
    (landing / SUCCESS_MARKER).write_text("")


@pytest.mark.parametrize("defect, stopped", [
    (lambda f: f.drop("birth_year"), r"ContractError: .*part-00000\.parquet: missing required column\(s\) birth_year"),
    (lambda f: f.with_columns(pl.lit(None, pl.String).alias("approximate_age"), pl.lit(None, pl.String).alias("birth_year")),
     r"check predict_age/source_snapshot\.usable_age_rate failed"),
], ids=["bad_delivery", "failed_blocking_check"])
def test_a_bad_delivery_or_a_failed_blocking_check_is_not_retried(tmp_path, instance, defect, stopped):
    layout = DataLayout.at(tmp_path / "data")
    deliver(layout, defect(pl.from_arrow(generate_chunk(QUARTER.start, 2_000, 0, seed=5, pid_start=1)[0])))
    with pytest.raises(JobRunFailed, match=stopped):
        run_partition(predict_age.job, QUARTER.partition_key, instance, definitions(layout), progress=lambda _line: None)
    run = instance.get_runs(limit=1)[0]
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert attempts(instance, [run.run_id], dg.DagsterEventType.STEP_START) == ["predict_age__source_snapshot"]
    assert attempts(instance, [run.run_id], dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    assert run.tags.get("dagster/will_retry") == "false"  # run retries leave it alone too
