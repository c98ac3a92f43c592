# popcare: two commands do all set-up on a fresh machine (Python 3.11 and make):
#   make run    create the environment if missing, then run the nightly job on data/sample/
#   make test   create the environment if missing, then ruff and pytest
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
# uv from PATH, else the copy `pip install uv` puts beside the interpreter (run as `python -m uv`).
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
STAMP := $(VENV)/.popcare-synced

# Dagster reads dagster.yaml from DAGSTER_HOME; keep its storage in the ignored .dagster/ folder.
export DAGSTER_HOME := $(CURDIR)
export POPCARE_DAGSTER_DIR := $(CURDIR)/.dagster
export POPCARE_DAGSTER_COMPUTE_LOGS := $(CURDIR)/.dagster/logs
export UV_PYTHON_DOWNLOADS := never

.PHONY: help env run test lint dev bench bench-quick generate-sample clean

help:
	@echo "make run    - set up if needed, run the nightly job on data/sample/ into data/warehouse.duckdb"
	@echo "make test   - set up if needed, run ruff and pytest"
	@echo "make dev    - Dagster UI (dagster dev) on this repository"
	@echo "make bench  - benchmarks at 10k / 100k / 1M generated patients (docs/benchmarks.md)"

# uv is installed with pip when absent; the lock file pins every package (uv sync --frozen).
$(STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
	  || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python $(PYTHON)
	@mkdir -p .dagster/logs
	@touch $(STAMP)

env: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/popcare run

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

dev: $(STAMP)
	$(VENV)/bin/dagster dev -m pipelines.definitions

bench: $(STAMP)
	POPCARE_DUCKDB_MEMORY=$${POPCARE_DUCKDB_MEMORY:-6GB} $(VENV)/bin/python -m bench.run --sizes 10000,100000,1000000

bench-quick: $(STAMP)
	$(VENV)/bin/python -m bench.run --sizes 10000 --quick

generate-sample: $(STAMP)
	$(VENV)/bin/popcare generate --patients 2000 --seed 20260930 --start 2023-10-01 --end 2026-09-30 --out data/sample --format parquet

clean:
	rm -rf .dagster data/out data/warehouse.duckdb data/warehouse.duckdb.wal
