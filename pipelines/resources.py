"""Dagster resources: the settings of a run and the DuckDB warehouse, both overridable per run."""

import os

from dagster_duckdb import DuckDBResource

from pipelines.settings import PopcareSettings, settings_from_env, warehouse_from_env


def duckdb_resource(database: str | None = None) -> DuckDBResource:
    # DuckDB uses every core and up to 80% of RAM by default. POPCARE_DUCKDB_MEMORY caps memory
    # (a DuckDB size: "12GB"); DuckDB spills sorts, joins and aggregates beyond it, but at 1M
    # patients core.member_months and core.procedure still ran out of memory under a 6 GB cap
    # (docs/benchmarks.md), so there is no cap by default.
    config: dict[str, str | int] = {"preserve_insertion_order": "true"}
    memory = os.environ.get("POPCARE_DUCKDB_MEMORY")
    if memory:
        config["memory_limit"] = memory
    return DuckDBResource(database=database or warehouse_from_env(), connection_config=config)


def build_resources() -> dict[str, PopcareSettings | DuckDBResource]:
    return {"settings": settings_from_env(), "duckdb": duckdb_resource()}
