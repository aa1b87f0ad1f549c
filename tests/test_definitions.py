import dagster as dg

from platform_assets.definitions import defs
from platform_assets.predict_age.partitions import PREDICT_AGE_BATCHES


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)
    names = {j.name for j in defs.resolve_all_job_defs()}
    assert {"predict_age_prepare", "predict_age_batches", "predict_age_publish", "predict_age_daily"} <= names
    assert {s.name for s in defs.sensors} == {"predict_age_snapshot_sensor", "predict_age_daily_sensor",
                                              "predict_age_chain_sensor"}
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in defs.schedules)


def test_assets_checks_and_partitions_are_declared():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {f"predict_age/{n}" for n in (
        "source_snapshot", "staging_features", "training_features", "age_models", "missing_rows_evaluation",
        "prediction_batches",
        "final_results", "human_qa", "prediction_batches_cleanup", "daily_arrivals", "daily_predictions",
        "daily_monitoring")}
    checks = {c.name for c in graph.asset_check_keys}
    assert {"row_count_matches_source", "pid_unique", "full_coverage", "age_in_bounds", "confidence_in_unit_range",
            "sources_consistent", "holdout_quality", "interval_calibration", "fairness", "not_worse_than_champion",
            "confidence_ranks_errors", "beats_baseline"} <= checks
    batches = graph.get(dg.AssetKey(["predict_age", "prediction_batches"])).partitions_def
    assert isinstance(batches, dg.MultiPartitionsDefinition)
    assert len(batches.get_partition_keys()) == PREDICT_AGE_BATCHES * len(
        graph.get(dg.AssetKey(["predict_age", "final_results"])).partitions_def.get_partition_keys())
