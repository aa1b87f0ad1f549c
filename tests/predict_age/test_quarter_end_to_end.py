"""A whole quarter through Dagster on 20k generated rows: outputs, checks, catalog, idempotency."""

import dagster as dg
import duckdb
import pytest

from platform_assets.predict_age.jobs import PREPARE, PUBLISH
from platform_assets.predict_age.logic.summary import format_summary
from platform_assets.query import main as query
from platform_assets.run import JobRunFailed
from platform_core.registry import ModelRegistry
from platform_core.storage import current
from tests.conftest import QUARTER, SMALL_ROWS
from tests.predict_age.helpers import definitions, run_quarter

CONTENT_HASH = ("SELECT count(*), sum(hash(pid, predicted_age, confidence_score, prediction_source, model_version, "
                "prediction_status)) FROM predict_age_final_results_2025q3")


def catalog(layout):
    return duckdb.connect(str(layout.catalog), read_only=True)


def test_a_quarter_end_to_end(data_layout, instance, capfd):
    defs = definitions(data_layout)
    recorded = run_quarter(QUARTER, instance, defs)
    checks = {c["check"]: c["passed"] for c in recorded["checks"]}
    warnings = {"age_models.fairness_conclusive", "age_models.gates_conclusive"}
    assert len(checks) == 17 and all(passed for name, passed in checks.items() if name not in warnings)
    # 707 held-out rows cannot settle a 1-year bias across 4 regions: fairness passes, flagged inconclusive
    fairness_gates = recorded["stages"]["age_models"][0]["fairness_gates"]
    assert not checks["age_models.fairness_conclusive"] and "inconclusive" in {g["verdict"] for g in fairness_gates}
    assert "fail" not in {g["verdict"] for g in fairness_gates}
    # nor an interval's coverage within 2 points of 80% (its Wilson interval is +-3 points): a warning, not a pass
    judged = recorded["stages"]["age_models"][0]["judged"]
    assert not checks["age_models.gates_conclusive"] and judged["interval coverage |deviation|"]["verdict"] == "inconclusive"
    assert judged["holdout MAE"]["verdict"] == "pass" and judged["holdout MAE"]["rows"] == 707
    # the candidate re-scored from its registered files is the model trained: the same held-out MAE
    assert judged["holdout MAE"]["value"] == pytest.approx(recorded["stages"]["age_models"][0]["xgboost"]["mae"], abs=1e-3)

    with catalog(data_layout) as con:
        rows, pids, nulls = con.execute(
            "SELECT count(*), count(DISTINCT pid), count(*) - count(predicted_age) FROM predict_age_final_results_2025q3"
        ).fetchone()
        assert (rows, pids, nulls) == (SMALL_ROWS, SMALL_ROWS, 0)
        by_source = dict(con.execute(
            "SELECT prediction_source, count(*) FROM predict_age_final_results_2025q3 GROUP BY 1").fetchall())
        staging = recorded["stages"]["staging_features"][0]
        assert by_source["EXISTING_APPROX_AGE"] == staging["existing_approx_age"]
        assert by_source["EXISTING_BIRTH_YEAR"] == staging["existing_birth_year"]
        assert by_source["ML_PREDICTION"] + by_source.get("DEFAULT_RULE", 0) == staging["rows_needing_prediction"]
        assert 0.30 < (by_source["EXISTING_APPROX_AGE"] + by_source["EXISTING_BIRTH_YEAR"]) / rows < 0.45
        # the reference's verification queries run against the view
        age_groups = con.execute("""
            SELECT CASE WHEN predicted_age < 25 THEN '18-24' WHEN predicted_age < 35 THEN '25-34'
                        WHEN predicted_age < 50 THEN '35-49' WHEN predicted_age < 65 THEN '50-64' ELSE '65+' END g,
                   count(*) FROM predict_age_final_results_2025q3 GROUP BY g""").fetchall()
        assert sum(n for _, n in age_groups) == SMALL_ROWS and len(age_groups) == 5
        quality = dict((s, (c, lo, hi)) for s, c, lo, hi in con.execute("""
            SELECT prediction_source, avg(confidence_score), min(predicted_age), max(predicted_age)
            FROM predict_age_final_results_2025q3 GROUP BY 1""").fetchall())
        assert quality["EXISTING_APPROX_AGE"][0] == 1.0
        assert 0.3 < quality["ML_PREDICTION"][0] < 1.0
        assert all(18 <= lo and hi <= 100 for _, lo, hi in quality.values())
        versions = {v for (v,) in con.execute(
            "SELECT DISTINCT model_version FROM predict_age_final_results_2025q3 WHERE prediction_source = 'ML_PREDICTION'"
        ).fetchall()}
        qa_views = con.execute("SELECT count(*) FROM predict_age_qa_by_source_2025q3").fetchone()[0]
        first_hash = con.execute(CONTENT_HASH).fetchone()
    champion = ModelRegistry(data_layout.models).champion("predict_age")["xgboost"]
    assert versions == {str(champion)}
    assert qa_views >= 3
    record = ModelRegistry(data_layout.models).metadata(champion)  # the champion's file carries its gate results
    assert {g["name"]: g["passed"] for g in record["gates"]} == {**dict.fromkeys(
        ["holdout_quality", "beats_baseline", "interval_calibration", "confidence_ranks_errors", "fairness",
         "not_worse_than_champion"], True), "fairness_conclusive": False, "gates_conclusive": False}  # warnings: promoted
    assert {g["attribute"] for g in record["fairness_gates"]} == {"gender", "region", "age_band"}

    models = recorded["stages"]["age_models"][0]
    assert models["xgboost"]["mae"] < models["ridge"]["mae"]
    assert "![age groups](data:image/png;base64,iVBOR" in recorded["stages"]["human_qa"][0]["report"]
    truth = {r["prediction_source"]: r for r in recorded["stages"]["human_qa"][0]["truth_accuracy"]}
    assert truth["ML_PREDICTION"]["mae"] < 6.0
    summary = format_summary(recorded, data_layout.catalog)
    assert "ML_PREDICTION" in summary and "Accuracy against ground truth" in summary
    assert "Checks: 15/17 passed; warnings: age_models.fairness_conclusive, age_models.gates_conclusive" in summary
    coverage = next(line for line in summary.splitlines() if "gates      interval coverage" in line)
    low, high = judged["interval coverage |deviation|"]["interval"]
    assert f"[{low}, {high}] <= 0.02: inconclusive  (n=707)" in coverage  # the interval beside the figure
    region = next(line for line in summary.splitlines() if line.startswith("  fairness   region"))
    low, high = next(g for g in fairness_gates if g["attribute"] == "region")["abs_bias_interval"]
    assert f"[{low}, {high}] <= 1.0" in region and region.endswith(": inconclusive")  # the interval beside the figure
    assert "held jointly over 34 comparisons" in summary and "open (rows -> about how many would settle it)" in summary
    assert "Quarantine (source_snapshot" in summary and "approximate_age        unknown_code" in summary
    capfd.readouterr()
    assert query(["--data-dir", str(data_layout.root), "SELECT count(*) AS n FROM predict_age_final_results_2025q3"]) == 0
    assert f"{SMALL_ROWS}" in capfd.readouterr().out  # `make query`

    # re-running the publish stage replaces its outputs: same content, no duplicates
    run = defs.resolve_job_def(PUBLISH).execute_in_process(instance=instance, partition_key=QUARTER.partition_key)
    assert run.success
    with catalog(data_layout) as con:
        assert con.execute(CONTENT_HASH).fetchone() == first_hash
    assert not list(data_layout.root.rglob(".*.tmp-*"))

    # a re-run whose table fails its checks (twice) leaves what the catalog shows untouched
    published = current(data_layout.table("predict_age", "final_results", QUARTER))
    strict = definitions(data_layout, max_age=50)  # existing ages above 50 now count as out of range
    for _ in range(2):
        failed = strict.resolve_job_def(PUBLISH).execute_in_process(
            instance=instance, partition_key=QUARTER.partition_key, raise_on_error=False)
        assert [e.check_name for e in failed.get_asset_check_evaluations() if not e.passed] == ["age_in_bounds"]
    assert current(data_layout.table("predict_age", "final_results", QUARTER)) != published  # the failed table is the newest
    with catalog(data_layout) as con:
        assert con.execute(CONTENT_HASH).fetchone() == first_hash
    assert published.exists()


def test_a_failing_blocking_check_stops_downstream_assets(data_layout, instance):
    defs = definitions(data_layout, min_usable_age_rate=0.99)
    result = defs.resolve_job_def(PREPARE).execute_in_process(
        instance=instance, partition_key=QUARTER.partition_key, raise_on_error=False)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["usable_age_rate"]
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == {"source_snapshot"}
    assert not data_layout.table("predict_age", "staging_features", QUARTER).exists()


def test_a_failed_model_gate_is_not_promoted_and_nothing_is_predicted(data_layout, instance):
    defs = definitions(data_layout, max_holdout_mae=0.5)
    with pytest.raises(JobRunFailed, match="holdout_quality"):
        run_quarter(QUARTER, instance, defs)
    assert not ModelRegistry(data_layout.models).champion_history("predict_age")
    assert ModelRegistry(data_layout.models).versions("predict_age", "xgboost")  # kept for inspection
    batch = dg.MultiPartitionKey({"batch": "000", "quarter": QUARTER.partition_key})
    result = defs.resolve_job_def("predict_age_batches").execute_in_process(
        instance=instance, partition_key=batch, raise_on_error=False)
    assert not result.success  # no champion: prediction refuses to guess with an unapproved model
    assert not data_layout.table("predict_age", "prediction_batches", QUARTER).exists()
