"""One Definitions merged from the job folders: every job loads, its names are its own, and a
new job is a folder, discovered."""

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

import platform_assets

from platform_assets.definitions import JOBS, build_definitions, defs, discover_jobs
from platform_assets.predict_age.partitions import PREDICT_AGE_BATCHES
from platform_assets.run import run_partition
from platform_core.registry import ModelRegistry
from platform_core.storage import DataLayout
from resources import Warehouse
from tests.fixtures import toy_job


def names_of(job_defs: dg.Definitions) -> dict[str, set[str]]:
    graph = job_defs.resolve_asset_graph()
    return {
        "assets": {k.to_user_string() for k in graph.get_all_asset_keys()},
        "checks": {f"{c.asset_key.to_user_string()}.{c.name}" for c in graph.asset_check_keys},
        "groups": {graph.get(k).group_name for k in graph.get_all_asset_keys()},
        "jobs": {j.name for j in job_defs.jobs or []},
        "sensors": {s.name for s in job_defs.sensors or [] if s.name != "run_failure_alert"},  # the platform's own
        "schedules": {s.name for s in job_defs.schedules or []},
    }


def test_every_job_loads_and_its_names_are_prefixed_and_disjoint():
    dg.Definitions.validate_loadable(defs)
    assert {j.name for j in JOBS} == {p.parent.name for p in Path(platform_assets.__file__).parent.glob("*/definitions.py")}
    assert {"predict_age", "engagement", "readmission", "wait_times", "heavy_queries"} <= {j.name for j in JOBS}
    seen: dict[str, set[str]] = {}
    for job in JOBS:
        for kind, names in names_of(build_definitions(Warehouse(), jobs=[job])).items():
            assert names or kind in ("checks", "jobs", "schedules"), f"{job.name} declares no {kind}"
            assert all(n.startswith(job.name) for n in names), (job.name, kind, names)
            assert not names & seen.get(kind, set()), (job.name, kind, names & seen[kind])
            seen.setdefault(kind, set()).update(names)
    assert {s.name for s in defs.sensors} >= {"predict_age_snapshot_sensor", "predict_age_daily_sensor", "predict_age_automation",
                                             "engagement_customers_sensor", "engagement_automation", "run_failure_alert",
                                             "readmission_encounters_sensor", "wait_times_observations_sensor",
                                             "heavy_queries_log_sensor"}
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in defs.schedules)


def test_published_tables_carry_standard_metadata():
    graph = defs.resolve_asset_graph()
    for name in ("predict_age/final_results", "predict_age/daily_predictions", "engagement/engagement_scores",
                 "readmission/readmission_scores"):
        node = graph.get(dg.AssetKey.from_user_string(name))
        assert node.freshness_policy is not None, name
        assert isinstance(node.metadata["dagster/column_schema"], dg.TableSchema), name
        assert node.owners == ["team:ml-platform"] and node.code_version, name
        assert node.automation_condition is not None, name


def test_published_tables_describe_every_column_and_descriptions_show_their_placeholders():
    """A published table (one with a freshness policy) tells the catalog what each column means; a
    `<quarter>` placeholder outside a code span would vanish from the UI's markdown."""
    import re

    graph = defs.resolve_asset_graph()
    published = [k for k in graph.get_all_asset_keys() if graph.get(k).freshness_policy is not None]
    assert len(published) >= 7
    for asset_key in published:
        schema = graph.get(asset_key).metadata.get("dagster/column_schema")
        assert isinstance(schema, dg.TableSchema), asset_key
        assert all(c.description for c in schema.columns), (asset_key, [c.name for c in schema.columns if not c.description])
    for asset_key in graph.get_all_asset_keys():
        outside_code = re.sub(r"`[^`]*`", "", graph.get(asset_key).description or "")
        assert not re.search(r"<[A-Za-z_-]+>", outside_code), (asset_key, outside_code)


def test_predict_age_partitions():
    graph = defs.resolve_asset_graph()
    batches = graph.get(dg.AssetKey(["predict_age", "prediction_batches"])).partitions_def
    assert isinstance(batches, dg.MultiPartitionsDefinition)
    assert len(batches.get_partition_keys()) == PREDICT_AGE_BATCHES * len(
        graph.get(dg.AssetKey(["predict_age", "final_results"])).partitions_def.get_partition_keys())


def test_a_throwaway_job_is_loaded_stored_registered_and_published(tmp_path, instance):
    layout = DataLayout.at(tmp_path / "data")
    with_toy = build_definitions(Warehouse(data_dir=str(layout.root)), jobs=JOBS + [toy_job.job])
    dg.Definitions.validate_loadable(with_toy)
    assert "toy_job/doubled" in names_of(with_toy)["assets"]

    toy_job.job.generate(layout, "2025-03-01", 5, 0)
    recorded = run_partition(toy_job.job, "2025-03-01", instance, with_toy, progress=lambda _line: None)
    assert recorded["checks"] == [{"check": "doubled.row_count_matches_input", "passed": True, "warning": False}]
    assert (layout.table_area("toy_job", "doubled") / "2025-03-01").exists()
    assert str(ModelRegistry(layout.models).champion("toy_job")["multiplier"]).startswith("multiplier/2025-03-01-")
    with duckdb.connect(str(layout.catalog), read_only=True) as con:
        assert con.execute("SELECT sum(x) FROM toy_job_doubled").fetchone()[0] == 2 * (0 + 1 + 2 + 3 + 4)


def test_settings_that_are_set_resolve_where_the_run_executes(monkeypatch):
    from platform_assets.engagement.config import EngagementConfig
    from platform_assets.predict_age.config import PredictAgeConfig

    monkeypatch.setenv("PLATFORM_DATA_DIR", "/somewhere")
    monkeypatch.setenv("PREDICT_AGE_SEED", "11")
    monkeypatch.setenv("PREDICT_AGE_FAIRNESS_MAX_ABS_BIAS", "1.5")
    monkeypatch.setenv("ENGAGEMENT_SEARCH", "grid")
    assert isinstance(Warehouse.from_env().data_dir, dg.EnvVar)  # deferred, shown as an env var in the UI
    assert PredictAgeConfig.from_env().seed.env_var_name == "PREDICT_AGE_SEED"  # an IntEnvVar
    assert PredictAgeConfig.from_env().fairness_max_abs_bias == 1.5  # Dagster has no float EnvVar: the value
    assert EngagementConfig.from_env().search == "grid"
    assert Warehouse().data_dir == "data" and PredictAgeConfig().seed == 7  # unset: the local defaults


def test_a_job_folder_is_discovered_without_editing_a_shared_file(tmp_path, monkeypatch):
    """The toy job copied into a fresh package is found by its folder alone; a folder whose
    definitions export no job is refused by name."""
    package = tmp_path / "more_jobs"
    (package / "toy_job").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "toy_job" / "__init__.py").write_text("")
    shutil.copy(Path(toy_job.__file__), package / "toy_job" / "definitions.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = discover_jobs(package, "more_jobs")
    assert [j.name for j in found] == ["toy_job"] and found[0].defs.assets

    (package / "empty").mkdir()
    (package / "empty" / "__init__.py").write_text("")
    (package / "empty" / "definitions.py").write_text("import dagster as dg\ndefs = dg.Definitions()\n")
    with pytest.raises(TypeError, match="more_jobs.empty.definitions must export job"):
        discover_jobs(package, "more_jobs")

