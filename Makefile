# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# dg runs the project's code with the project's interpreter
DG = VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dg
JOB ?= predict_age
# PARTITION= is the partition as a person writes it (2025q3, 2025-07); empty: the job's default. QUARTER= still works.
# Size of the synthetic world generated when the partition has no delivery; empty: the job's default.
ROWS ?=
SEED ?= 7
# What a user types never reaches a shell: each value is exported verbatim (`$(value ...)`: make does
# not expand it either) as ARG_<NAME> for `python -m platform_assets <command>`, which checks it.
USER_VARS := JOB QUARTER PARTITION PARTITIONS ROWS SEED SQL SQL_FILE USER_NAME SCHEMA SOURCE REASON DAY ENTITY TIER ALL PORT SLOT
export ARG_JOB := $(value JOB)
export ARG_PARTITION := $(or $(value PARTITION),$(value QUARTER))
export ARG_PARTITIONS := $(or $(value PARTITIONS),$(value PARTITION),$(value QUARTER))
export ARG_ROWS := $(value ROWS)
export ARG_SEED := $(value SEED)
export ARG_SQL := $(value SQL)
export ARG_SQL_FILE := $(value SQL_FILE)
export ARG_USER_NAME := $(value USER_NAME)
export ARG_SCHEMA := $(value SCHEMA)
export ARG_SOURCE := $(value SOURCE)
export ARG_REASON := $(value REASON)
export ARG_DAY := $(value DAY)
export ARG_ENTITY := $(value ENTITY)
export ARG_TIER := $(value TIER)
export ARG_ALL := $(value ALL)
export ARG_PORT := $(value PORT)
export ARG_SLOT := $(value SLOT)
unexport $(USER_VARS)
PLATFORM := $(BIN)/python -m platform_assets
# Deployment shape (resources/environment.py): local | s3 | ecs | k8s; each has its instance file.
export PLATFORM_ENV ?= local
INSTANCE_FILE := $(if $(filter local,$(PLATFORM_ENV)),dagster.yaml,deploy/$(PLATFORM_ENV)/dagster.yaml)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home$(if $(filter local,$(PLATFORM_ENV)),,-$(PLATFORM_ENV))
export PLATFORM_DATA_DIR ?= $(CURDIR)/data
EXTRAS := $(if $(filter local,$(PLATFORM_ENV)),test,test,deploy)

.PHONY: lock setup run test test-integration dashboard retrain rollback-entity classify dev generate validate clean models rollback bench bench-s3 bench-shapes backfill query

# Every install takes the exact versions of requirements/lock.txt and refuses a stale lock.
LOCK := requirements/lock.txt
UV_VERSION := 0.13.9
INSTALL = $(BIN)/uv pip install -q --python $(BIN)/python --constraint $(LOCK)

$(VENV)/.installed-$(EXTRAS): pyproject.toml $(LOCK)
	$(PYTHON) requirements/lock.py check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(INSTALL) -e '.[$(EXTRAS)]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: $(INSTANCE_FILE)
	mkdir -p $(DAGSTER_HOME)
	cp $(INSTANCE_FILE) $@

setup: $(VENV)/.installed-$(EXTRAS) $(DAGSTER_HOME)/dagster.yaml

## run one partition of a job end to end through Dagster and print its summary: make run JOB=engagement
run: setup
	$(PLATFORM) run

## run the test suite (installs Debian's chromium for the dashboard's browser test when absent)
test: setup
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	$(BIN)/python -m pytest -q --durations=15

## integration tests against real servers started by the tests (PostgreSQL, installed when absent; SeaweedFS's S3 API)
test-integration: setup
	$(INSTALL) -e '.[test,integration]'
	test -x "$$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null | tail -1)" || (apt-get update -q && apt-get install -y -q postgresql)
	$(BIN)/python -m pytest -q -m integration tests/integration

## the wait_times dashboard (pipeline status, model quality, wait-time curves, freshness): make dashboard PORT=8050
dashboard: setup
	$(PLATFORM) dashboard

## start the Dagster UI (webserver + daemon) on the same instance and data
dev: setup
	$(DG) dev

## write a job's synthetic world into the landing area (refuses a partition that has a delivery)
generate: setup
	$(PLATFORM) generate

## load and check every definition the way the code server does
validate: setup
	$(DG) check defs

clean:
	rm -rf $(PLATFORM_DATA_DIR) $(DAGSTER_HOME)

## run several partitions of a job, one after another: make backfill PARTITIONS="2025q2 2025q3"
backfill: setup
	$(PLATFORM) backfill

## run SQL against the catalog's views (local or S3): make query SQL="SELECT ..."
query: setup
	$(PLATFORM) query

## show a job's champion models; `make rollback REASON="..."` returns to the previous champion
models: setup
	$(PLATFORM) models

rollback: setup
	$(PLATFORM) rollback

## wait_times: retrain one entity, one tier or all for a day (make retrain DAY=2025-08-31 ENTITY=42 | TIER=1 | ALL=1)
retrain: setup
	$(PLATFORM) retrain

## wait_times: roll back one entity's model or all (make rollback-entity ENTITY=42 | ALL=1)
rollback-entity: setup
	$(PLATFORM) rollback-entity

## heavy_queries: classify one query with the champion ONNX model (make classify SQL="select ..." USER_NAME=... SCHEMA=...)
classify: setup
	$(PLATFORM) classify

## benchmark every stage at ROWS rows with side-by-side baselines (results in bench/results/)
bench: setup
	$(INSTALL) -e '.[bench]'
	$(BIN)/python bench/run.py --rows "$${ARG_ROWS:-1000000}"

## object storage: DuckDB+fsspec vs DuckDB httpfs vs Polars vs local disk on a local S3 server
bench-s3: setup
	$(INSTALL) -e '.[test,integration]'
	$(BIN)/python bench/object_storage.py --rows "$${ARG_ROWS:-1000000}"

## one quarter in the local and s3 deployment shapes (PostgreSQL and S3 servers started for the run)
bench-shapes: setup
	$(INSTALL) -e '.[test,integration]'
	$(BIN)/python bench/deploy_shapes.py --rows "$${ARG_ROWS:-1000000}"

## renew requirements/lock.txt after a change of pyproject.toml's dependencies (needs the package registry)
lock:
	test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q uv==$(UV_VERSION))
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 --no-header --no-annotate --quiet -o $(LOCK).new
	$(PYTHON) requirements/lock.py stamp $(LOCK).new && rm $(LOCK).new
