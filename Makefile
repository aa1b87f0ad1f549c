# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# dg runs the project's code with the project's interpreter
DG = VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dg
JOB ?= predict_age
# The partition as a person writes it (2025q3, 2025-07); empty: the job's default. QUARTER= still works.
PARTITION ?= $(QUARTER)
PARTITIONS ?= $(PARTITION)
# Size of the synthetic world generated when the partition has no delivery; empty: the job's default.
ROWS ?=
SEED ?= 7
RUN_ARGS = --job $(JOB) $(if $(PARTITION),--partition $(PARTITION)) $(if $(ROWS),--rows $(ROWS)) --seed $(SEED)
# Deployment shape (resources/environment.py): local | s3 | ecs | k8s; each has its instance file.
export PLATFORM_ENV ?= local
INSTANCE_FILE := $(if $(filter local,$(PLATFORM_ENV)),dagster.yaml,deploy/$(PLATFORM_ENV)/dagster.yaml)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home$(if $(filter local,$(PLATFORM_ENV)),,-$(PLATFORM_ENV))
export PLATFORM_DATA_DIR ?= $(CURDIR)/data
EXTRAS := $(if $(filter local,$(PLATFORM_ENV)),test,test,deploy)

.PHONY: setup run test test-integration dashboard retrain rollback-entity classify dev generate validate clean models rollback bench bench-s3 bench-shapes backfill query

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[$(EXTRAS)]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: $(INSTANCE_FILE)
	mkdir -p $(DAGSTER_HOME)
	cp $(INSTANCE_FILE) $@

setup: $(VENV)/.installed-$(EXTRAS) $(DAGSTER_HOME)/dagster.yaml

## run one partition of a job end to end through Dagster and print its summary: make run JOB=engagement
run: setup
	$(BIN)/python -m platform_assets.run $(RUN_ARGS)

## run the test suite (installs Debian's chromium for the dashboard's browser test when absent)
test: setup
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	$(BIN)/python -m pytest -q

## integration tests against real servers started by the tests (PostgreSQL, installed when absent; SeaweedFS's S3 API)
test-integration: setup
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test,integration]'
	test -x "$$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null | tail -1)" || (apt-get update -q && apt-get install -y -q postgresql)
	$(BIN)/python -m pytest -q -m integration tests/integration

## the wait_times dashboard (pipeline status, model quality, wait-time curves, freshness): make dashboard PORT=8050
dashboard: setup
	$(BIN)/python -m platform_assets.wait_times.dashboard --data-dir $(PLATFORM_DATA_DIR) --port $(or $(PORT),8050)

## start the Dagster UI (webserver + daemon) on the same instance and data
dev: setup
	$(DG) dev

## write a job's synthetic world into the landing area (refuses a partition that has a delivery)
generate: setup
	$(BIN)/python -m platform_assets.run $(RUN_ARGS) --generate-only

## load and check every definition the way the code server does
validate: setup
	$(DG) check defs

clean:
	rm -rf $(PLATFORM_DATA_DIR) $(DAGSTER_HOME)

## run several partitions of a job, one after another: make backfill PARTITIONS="2025q2 2025q3"
backfill: setup
	@test -n "$(PARTITIONS)" || (echo "make backfill needs PARTITIONS=\"2025q2 2025q3\" (and JOB= for another job)" >&2; exit 2)
	for p in $(PARTITIONS); do $(BIN)/python -m platform_assets.run --job $(JOB) --partition $$p $(if $(ROWS),--rows $(ROWS)) --seed $(SEED) || exit 1; done

## run SQL against the catalog's views (local or S3): make query SQL="SELECT ..."
query: setup
	$(BIN)/python -m platform_assets.query "$(SQL)"

## show a job's champion models; `make rollback REASON="..."` returns to the previous champion
models: setup
	$(BIN)/python -m platform_assets.registry_cli --job $(JOB) show

rollback: setup
	$(BIN)/python -m platform_assets.registry_cli --job $(JOB) rollback --reason "$(REASON)"

## wait_times: retrain one entity, one tier or all for a day (make retrain DAY=2025-08-31 ENTITY=42 | TIER=1 | ALL=1)
retrain: setup
	$(BIN)/python -m platform_assets.wait_times.cli retrain --day $(DAY) $(if $(ENTITY),--entity $(ENTITY)) $(if $(TIER),--tier $(TIER)) $(if $(ALL),--all)

## wait_times: roll back one entity's model or all (make rollback-entity ENTITY=42 | ALL=1)
rollback-entity: setup
	$(BIN)/python -m platform_assets.wait_times.cli rollback $(if $(ENTITY),--entity $(ENTITY)) $(if $(ALL),--all) $(if $(REASON),--reason "$(REASON)")

## heavy_queries: classify one query with the champion ONNX model (make classify SQL="select ..." USER_NAME=... SCHEMA=...)
classify: setup
	$(BIN)/python -m platform_assets.heavy_queries.classify "$(SQL)" $(if $(USER_NAME),--user $(USER_NAME)) $(if $(SCHEMA),--schema $(SCHEMA)) $(if $(SOURCE),--source $(SOURCE))

## benchmark every stage at ROWS rows with side-by-side baselines (results in bench/results/)
bench: setup
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[bench]'
	$(BIN)/python bench/run.py --rows $(or $(ROWS),1000000)

## object storage: DuckDB+fsspec vs DuckDB httpfs vs Polars vs local disk on a local S3 server
bench-s3: setup
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test,integration]'
	$(BIN)/python bench/object_storage.py --rows $(or $(ROWS),1000000)

## one quarter in the local and s3 deployment shapes (PostgreSQL and S3 servers started for the run)
bench-shapes: setup
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test,integration]'
	$(BIN)/python bench/deploy_shapes.py --rows $(or $(ROWS),1000000)
