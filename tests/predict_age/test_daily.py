"""Daily arrivals: scored with the champion into the catalog, and monitored for drift."""

import duckdb
import numpy as np

from platform_assets.predict_age.jobs import DAILY, PREPARE
from platform_assets.predict_age.logic.generator import generate_daily_arrivals
from platform_core.drift import psi, reference_histogram
from platform_core.periods import parse_day
from platform_core.registry import ModelRegistry
from tests.conftest import QUARTER
from tests.predict_age.helpers import definitions


def test_a_daily_file_is_scored_with_the_champion_and_lands_in_the_catalog(data_layout, instance):
    defs = definitions(data_layout)
    assert defs.resolve_job_def(PREPARE).execute_in_process(instance=instance, partition_key=QUARTER.partition_key).success
    day = parse_day("2025-08-15")
    generate_daily_arrivals(data_layout.landing("predict_age", day, feed="daily"), data_layout.truth("predict_age", day, feed="daily"), day, 3_000)
    result = defs.resolve_job_def(DAILY).execute_in_process(instance=instance, partition_key="2025-08-15")
    assert result.success
    champion = str(ModelRegistry(data_layout.models).champion("predict_age")["xgboost"])
    with duckdb.connect(str(data_layout.catalog), read_only=True) as con:
        rows, pids, versions = con.execute(
            "SELECT count(*), count(DISTINCT pid), list(DISTINCT model_version) FILTER (WHERE model_version IS NOT NULL) "
            "FROM predict_age_daily_predictions").fetchone()
    assert rows == pids == 3_000
    assert versions == [champion]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["full_coverage"].passed and checks["age_in_bounds"].passed
    assert checks["feature_drift"].metadata["max_psi"].value < 0.2  # same world as training: no drift
    monitoring = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == "daily_monitoring"]
    assert monitoring and "first_name_age" in monitoring[0].materialization.metadata["drift"].value

    # a day that fails its check stays out of the view; the next good day joins it
    strict = definitions(data_layout, max_age=50)
    for key, defs_of_day in (("2025-08-16", strict), ("2025-08-17", defs)):
        day = parse_day(key)
        generate_daily_arrivals(data_layout.landing("predict_age", day, feed="daily"), data_layout.truth("predict_age", day, feed="daily"),
                                day, 1_000)
        run = defs_of_day.resolve_job_def(DAILY).execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
        assert {e.check_name: e.passed for e in run.get_asset_check_evaluations()}["age_in_bounds"] == (key != "2025-08-16")
    with duckdb.connect(str(data_layout.catalog), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM predict_age_daily_predictions").fetchone()[0] == 3_000 + 1_000


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    ref = reference_histogram(rng.normal(50, 15, 50_000))
    assert psi(ref, rng.normal(50, 15, 20_000)) < 0.01
    assert psi(ref, rng.normal(60, 15, 20_000)) > 0.2
    with_missing = rng.normal(50, 15, 20_000)
    with_missing[:10_000] = np.nan
    assert psi(ref, with_missing) > 0.2  # a feature that went missing is drift too
