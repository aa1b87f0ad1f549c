"""Every deployment shape's instance file, checked by Dagster's own config machinery: the
instance schema, then each pluggable class (storage, run launcher, coordinator, compute logs)
against its class's config schema with the shape's environment variables set. The ECS and
Kubernetes launchers cannot start here; their configuration and the jobs' sizing tags can."""

import importlib
import json
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

from platform_assets.predict_age.jobs import jobs
from resources.environment import ENVIRONMENTS, PlatformEnvironmentError, platform_environment

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SHAPE_ENV = {"DAGSTER_PG_URL": "postgresql+psycopg2://dagster:secret@db:5432/dagster", "PLATFORM_LOG_BUCKET": "platform-logs",
             "PLATFORM_DATA_DIR": "s3://platform-data/prod", "PLATFORM_K8S_NAMESPACE": "batch-ml",
             "DAGSTER_HOME": "/opt/dagster/home"}  # set wherever an instance loads (make, deploy/Dockerfile)
PLUGGABLE = ("run_launcher", "compute_logs")
# Fargate's valid CPU units and the memory (MiB) each allows
FARGATE = {1024: range(2048, 8193, 1024), 2048: range(4096, 16385, 1024), 4096: range(8192, 30721, 1024)}


def instance_dir(shape: str) -> Path:
    return REPO if shape == "local" else REPO / "deploy" / shape


def assert_valid(klass, config: dict, where: str) -> None:
    result = process_config(klass.config_type(), config)
    assert result.success, f"{where}: {[e.message for e in result.errors]}"


@pytest.mark.parametrize("shape", ENVIRONMENTS)
def test_instance_file_validates(shape, monkeypatch):
    for name, value in SHAPE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PLATFORM_ENV", shape)
    assert platform_environment() == shape
    config, custom_class = dagster_instance_config(str(instance_dir(shape)))  # the instance schema
    assert custom_class is None
    raw = yaml.safe_load((instance_dir(shape) / "dagster.yaml").read_text())
    for section in PLUGGABLE:
        if section in raw:
            klass = getattr(importlib.import_module(raw[section]["module"]), raw[section]["class"])
            assert_valid(klass, raw[section].get("config", {}), f"{shape}/{section}")
    if shape != "local":
        from dagster_postgres import DagsterPostgresStorage

        assert_valid(DagsterPostgresStorage, raw["storage"]["postgres"], f"{shape}/storage")
        assert raw["run_monitoring"]["enabled"]
    if shape in ("ecs", "k8s"):
        assert raw["run_retries"]["enabled"] and raw["run_retries"]["max_retries"] >= 1
        assert raw["run_monitoring"]["start_timeout_seconds"] > 0
        assert raw["concurrency"]["runs"]["max_concurrent_runs"] >= 40  # the reference's fan-out


@pytest.mark.parametrize("job", jobs, ids=lambda j: j.name)
def test_job_sizes_are_valid_for_ecs_and_kubernetes(job):
    from dagster_k8s.job import get_user_defined_k8s_config

    tags = job.tags
    cpu, memory = int(tags["ecs/cpu"]), int(tags["ecs/memory"])
    assert memory in FARGATE[cpu], f"{job.name}: {cpu} CPU units with {memory} MiB is not a Fargate size"
    k8s = get_user_defined_k8s_config(tags)
    assert k8s.container_config["resources"]["requests"]["memory"] == f"{memory // 1024}Gi"
    assert int(tags["dagster/max_runtime"]) <= 4 * 3600
    assert json.loads(tags["dagster-k8s/config"])  # a JSON object, as the K8s launcher reads it


def test_a_shape_with_missing_settings_refuses_to_load():
    with pytest.raises(PlatformEnvironmentError, match="DAGSTER_PG_URL.*PLATFORM_LOG_BUCKET"):
        platform_environment({"PLATFORM_ENV": "ecs", "PLATFORM_DATA_DIR": "s3://b/p"})
    with pytest.raises(PlatformEnvironmentError, match="as s3://"):
        platform_environment({**SHAPE_ENV, "PLATFORM_ENV": "s3", "PLATFORM_DATA_DIR": "/data"})
    with pytest.raises(PlatformEnvironmentError, match="not one of"):
        platform_environment({"PLATFORM_ENV": "prod"})
    assert platform_environment({}) == "local"
