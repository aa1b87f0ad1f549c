"""heavy_queries end to end through Dagster on the small measured corpus: the 44-day window of a
small log (thresholds chosen from the delivered log so about 10% is heavy) labelled, split,
featurized, modelled, gated, registered and replayed; a run killed in the model step and
re-executed from failure without recomputing the finished assets; and a model failing the
compliance gate kept in the registry, never promoted."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from platform_assets.definitions import build_definitions
from platform_assets.heavy_queries import definitions as heavy_queries
from platform_assets.heavy_queries.config import HeavyQueriesConfig
from platform_assets.heavy_queries.keys import key
from platform_assets.heavy_queries.logic import pipeline
from platform_assets.heavy_queries.logic.corpus import SMALL_CORPUS
from platform_assets.heavy_queries.logic.delivery import generate_world
from platform_assets.heavy_queries.logic.onnx_model import MODEL_NAME
from platform_assets.heavy_queries.logic.summary import format_summary
from platform_assets.run import JobRunFailed, run_partition
from platform_core.registry import ModelRef, ModelRegistry
from platform_core import duck
from platform_core.storage import DataLayout
from resources import Warehouse

JOB = "heavy_queries"
ROWS_PER_DAY = 300  # 44 days, ~13,500 log rows, ~8,300 after filtering
ASSETS = ("labelled_queries", "query_window", "query_features", "heavy_query_model", "query_replay")
FINISHED, RERUN = ASSETS[:3], ASSETS[3:]


def open_instance(home: Path) -> dg.DagsterInstance:
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def settings(thresholds: dict, **changes) -> HeavyQueriesConfig:
    return HeavyQueriesConfig(heavy_cpu_ms=thresholds["cpu_ms"], heavy_peak_memory_bytes=thresholds["peak_memory_bytes"],
                              **changes)


def run(root: Path, day: str, config: HeavyQueriesConfig) -> dict:
    defs = build_definitions(Warehouse(data_dir=str(root / "data")), {JOB: config}, jobs=[heavy_queries.job])
    with open_instance(root / "dagster_home") as instance:
        return run_partition(heavy_queries.job, day, instance, defs, progress=lambda _line: None)


def daily_job(data_dir: str, cpu_ms: int, peak_memory_bytes: int) -> dg.JobDefinition:
    """The daily job as a fresh process rebuilds it (module-level, JSON arguments)."""
    config = settings({"cpu_ms": cpu_ms, "peak_memory_bytes": peak_memory_bytes})
    defs = build_definitions(Warehouse(data_dir=data_dir), {JOB: config}, jobs=[heavy_queries.job])
    return defs.resolve_job_def(f"{JOB}_daily")


def reconstructable_daily_job(data_dir: Path, thresholds: dict):
    """`daily_job` behind a pointer a fresh process can import: this module by its package path from the
    repository root (pytest imports it as `heavy_queries.test_end_to_end`, which only pytest's
    sys.path can resolve, so `dg.reconstructable` would point a child process nowhere)."""
    return dg.build_reconstructable_job("tests.heavy_queries.test_end_to_end", "daily_job",
                                        reconstructable_kwargs={"data_dir": str(data_dir), "cpu_ms": thresholds["cpu_ms"],
                                                                "peak_memory_bytes": thresholds["peak_memory_bytes"]},
                                        reconstructor_working_directory=str(Path(__file__).resolve().parents[2]))


def materializations(instance: dg.DagsterInstance) -> dict[str, int]:
    return {name: len(instance.fetch_materializations(key(name), limit=1000).records) for name in ASSETS}


@pytest.fixture(scope="module")
def window(tmp_path_factory) -> tuple[Path, str, dict, dict]:
    """The small log delivered and its last day run: (root, day, thresholds, what run_partition recorded).
    The corpus is cached where test_corpus.py caches it, so a session builds it once."""
    root = tmp_path_factory.mktemp("heavy_queries_e2e")
    delivered = generate_world(DataLayout.at(root / "data"), ROWS_PER_DAY, 7, SMALL_CORPUS,
                               cache_root=tmp_path_factory.getbasetemp() / "heavy_queries_cache")
    thresholds = {"cpu_ms": delivered.figures["local_cpu_threshold_ms"],
                  "peak_memory_bytes": delivered.figures["local_peak_memory_threshold_bytes"]}
    assert 0.05 <= delivered.figures["heavy_rate"] <= 0.11
    day = delivered.written[-1]
    return root, day, thresholds, run(root, day, settings(thresholds))


@pytest.fixture
def copy(window, tmp_path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(window[0], root)
    return root


def test_a_window_end_to_end(window):
    root, day, thresholds, recorded = window
    assert day == "2025-10-14"
    checks = {c["check"]: c["passed"] for c in recorded["checks"]}
    assert set(checks) == {"query_window.zero_cost_categories", "query_window.usable_rows",
                           "query_features.tfidf_training_days_only",
                           "query_features.feature_parity", "heavy_query_model.compliance_recall",
                           "heavy_query_model.onnx_parity"}

    labelled = recorded["stages"]["labelled_queries"]
    assert [m["partition"] for m in labelled] == ["2025-09-01..2025-10-14"] and labelled[0]["days"] == 44
    assert labelled[0]["thresholds"] == thresholds and 0.05 <= labelled[0]["heavy_share"] <= 0.15
    assert labelled[0]["rows_in"] == labelled[0]["rows_out"] + sum(labelled[0]["set_aside"].values())

    model = recorded["stages"]["heavy_query_model"][0]
    test = model["test"]
    # the gate's verdict is what the figures say, and every other gate passed
    assert checks["heavy_query_model.compliance_recall"] == (test["recall"] >= 0.98 and test["fnr"] <= 0.02)
    assert test["tp"] + test["fn"] == test["heavy"] > 0 and abs(test["recall"] + test["fnr"] - 1) < 1e-4
    assert all(passed for name, passed in checks.items() if name != "heavy_query_model.compliance_recall")
    assert model["promoted"] == checks["heavy_query_model.compliance_recall"] and model["failed_gates"] == []

    registry = ModelRegistry(root / "data" / "models")
    versions = registry.versions(JOB, MODEL_NAME)
    assert [f"{MODEL_NAME}/{v}" for v in versions] == [model["version"]] and versions[0].startswith(day)
    assert str(registry.champion(JOB)[MODEL_NAME]) == model["version"]
    files = registry.metadata(registry.champion(JOB)[MODEL_NAME])["files"]
    assert {"model.onnx"} <= set(files) and not any(f.endswith((".pkl", ".pickle", ".joblib")) for f in files)

    replay = recorded["stages"]["query_replay"][0]
    assert replay["rows"] > 0 and replay["model_version"] == model["version"]
    assert len(replay["per_day"]) == 14
    assert replay["plots"].count("](data:image/png;base64,iVBOR") == 2  # both plots embedded, shown in the UI
    # judged on the 7 test days only: the 7 validation days chose the threshold, so they are in sample
    assert replay["judged_days"] == ["2025-10-08", "2025-10-14"] and replay["in_sample_days"] == 7

    # the replay is published: both views answer `make query`'s read-only connection
    layout = DataLayout.at(root / "data")
    assert replay["catalog_views"] == ["heavy_queries_scored_2025_10_14", "heavy_queries_replay_2025_10_14"]
    with duck.read_catalog(layout.catalog) as con:
        scored = con.execute("SELECT count(*), count(DISTINCT day) FROM heavy_queries_scored_2025_10_14").fetchone()
        routed = con.execute("SELECT count(*), sum(heavy_predicted::INT) FROM heavy_queries_scored_2025_10_14 "
                             "WHERE day >= DATE '2025-10-08'").fetchone()
        tp = con.execute("SELECT sum(tp) FROM heavy_queries_replay_2025_10_14 WHERE NOT in_sample").fetchone()[0]
    assert scored == (replay["scored_rows"], 14) and routed == (replay["rows"], replay["tp"] + replay["fp"])
    assert tp == replay["tp"]

    summary = format_summary(recorded, layout)
    share = recorded["stages"]["query_window"][0]["heavy_share"]
    assert (f"CPU >= {thresholds['cpu_ms']:,} ms, peak memory > {thresholds['peak_memory_bytes']:,} bytes" in summary
            and f"({100 * share:.2f}% as labelled)" in summary)
    assert "unparsed texts routed heavy without the model: none" in summary
    assert "heavy_queries_scored_2025_10_14" in summary and "thresholds that make" not in summary


def test_bad_texts_in_a_binary_query_column_do_not_block_the_day(window, copy):
    """The last day redelivered with its query column as bytes, one of them the issue's malformed text and one
    of 1.1 MB: the whole job runs, every gate passes, and the long text is counted unparsed and served heavy."""
    _, day, thresholds, _ = window
    landing = DataLayout.at(copy / "data").landing(JOB, day)
    part = pl.read_parquet(landing / "part-00000.parquet")
    model_rows = (pl.col("curated") & (pl.col("query_type") == "SELECT") & (pl.col("cpu_time_ms") >= 0)
                  & (pl.col("peak_memory_bytes") >= 0) & (pl.col("create_time").dt.date() == date.fromisoformat(day))
                  & pl.col("query_id").is_unique() & ~pl.col("query").str.starts_with("SELECT ")
                  & ~pl.col("query").str.contains("information_schema"))
    first = part.with_row_index().filter(model_rows)["index"].head(2).to_list()
    texts = {first[0]: "select a from t where k in (x select b from u)",
             first[1]: "select a from t where a in (" + ", ".join(["1234567"] * 125_000) + ")"}
    queries = [texts.get(i, q) for i, q in enumerate(part["query"].to_list())]
    part.with_columns(pl.Series("query", [None if q is None else q.encode() for q in queries], dtype=pl.Binary)).write_parquet(
        landing / "part-00000.parquet")
    recorded = run(copy, day, settings(thresholds))
    assert all(c["passed"] for c in recorded["checks"])
    assert recorded["stages"]["query_features"][0]["unparsed"]["test"] == {"too_long": 1}
    assert recorded["stages"]["query_replay"][0]["unparsed_routed_heavy"] == 1


def test_a_day_of_unusable_costs_blocks_the_window(window, copy):
    """The last day redelivered with 99% of its costs unusable: set aside and counted, and the usable_rows
    check stops the run before any model is trained, naming the day, the reason, the count and the rate."""
    _, day, thresholds, _ = window
    landing = DataLayout.at(copy / "data").landing(JOB, day)
    part = pl.read_parquet(landing / "part-00000.parquet")
    broken = part.with_columns(pl.when(pl.int_range(pl.len()) < int(0.99 * part.height)).then(-1)
                               .otherwise(pl.col("cpu_time_ms")).alias("cpu_time_ms"))
    broken.write_parquet(landing / "part-00000.parquet")  # the producer's new delivery, in this copy
    registry = ModelRegistry(copy / "data" / "models")
    versions = registry.versions(JOB, MODEL_NAME)
    with pytest.raises(JobRunFailed, match=rf"usable_rows failed: failed={day} invalid_cost: ") as failed:
        run(copy, day, settings(thresholds))
    assert re.search(r"invalid_cost: [\d,]+ of [\d,]+ rows \((9\d\.\d)%\) set aside", str(failed.value))
    assert registry.versions(JOB, MODEL_NAME) == versions  # nothing trained on it


def test_a_failed_run_resumes_from_failure_without_recomputing_finished_assets(window, copy, monkeypatch):
    _, day, thresholds, _ = window
    calls = []

    def dies(*args, **kwargs):
        calls.append(args[2])
        raise RuntimeError("the model step was killed mid-way (injected)")

    monkeypatch.setattr(pipeline, "train_and_register", dies)
    job = reconstructable_daily_job(copy / "data", thresholds)
    registry = ModelRegistry(copy / "data" / "models")
    champion, versions = registry.champion(JOB)[MODEL_NAME], registry.versions(JOB, MODEL_NAME)
    with open_instance(copy / "dagster_home") as instance:
        failed = dg.execute_job(job, instance, tags={"dagster/partition": day},
                                run_config={"execution": {"config": {"in_process": {}}}})
        assert not failed.success and calls == [date.fromisoformat(day)]
        step_failures = [e for e in failed.all_events if e.is_step_failure]
        assert [e.step_key for e in step_failures] == [f"{JOB}__heavy_query_model"]
        assert "killed mid-way (injected)" in step_failures[0].event_specific_data.error.to_string()
        before = materializations(instance)

        # resumed the way a new run worker would: each step in a fresh process, the job rebuilt from
        # `daily_job`; the partition tag goes with it, as the UI's "Re-execute from failure" copies it
        resumed = dg.execute_job(job, instance, tags={"dagster/partition": day},
                                 reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
                                 run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 1}}}})
        assert resumed.success and len(calls) == 1  # the patch lives in this process only: the fresh ones ran the real step
        after = materializations(instance)
        run = instance.get_run_by_id(resumed.run_id)
        assert run.parent_run_id == failed.run_id and run.tags["dagster/partition"] == day
        executed = {e.step_key for e in resumed.all_events if e.is_step_success}
    assert executed == {f"{JOB}__{name}" for name in RERUN}
    assert {name: after[name] - before[name] for name in ASSETS} == {**dict.fromkeys(FINISHED, 0), **dict.fromkeys(RERUN, 1)}
    assert before["labelled_queries"] == 45  # the fixture's 44 days and the failed run's day: it did run there
    # same window, same data: the same version again, not a second copy
    assert registry.champion(JOB)[MODEL_NAME] == champion and registry.versions(JOB, MODEL_NAME) == versions


def test_a_model_failing_the_compliance_gate_is_kept_but_not_promoted(window, copy):
    _, day, thresholds, _ = window
    registry = ModelRegistry(copy / "data" / "models")
    versions, history = registry.versions(JOB, MODEL_NAME), registry.champion_history(JOB)
    with pytest.raises(JobRunFailed, match="compliance_recall failed") as failed:
        run(copy, day, settings(thresholds, min_recall=1.01))
    assert "min_recall=1.01" in str(failed.value)
    new = sorted(set(registry.versions(JOB, MODEL_NAME)) - set(versions))
    assert len(new) == 1  # registered for inspection
    kept = registry.metadata(ModelRef(JOB, MODEL_NAME, new[0]))
    assert kept["gates"] == {"compliance_recall": False, "onnx_parity": True} and kept["compliance"]["min_recall"] == 1.01
    assert registry.champion_history(JOB) == history  # never promoted: no champion change
    with open_instance(copy / "dagster_home") as instance:
        replays = instance.fetch_materializations(key("query_replay"), limit=10).records
    assert len(replays) == 1  # the fixture's: the blocked model stopped the job before the replay
