"""Dagster resources: the settings of a run and the DuckDB warehouse, both overridable per run."""

import os

from dagster_duckdb import DuckDBResource

from pipelines.settings import PopcareSettings, settings_from_env, warehouse_from_env

# DuckDB's own default is 80% of RAM. popcare caps it so a 1M-patient run stays under 8 GB of
# resident memory (DuckDB spills sorts, joins and aggregates to <warehouse>.tmp beyond it);
# POPCARE_DUCKDB_MEMORY raises or lowers it (a DuckDB size: "12GB", "500MB").
DEFAULT_DUCKDB_MEMORY = "6GB"


def duckdb_resource(database: str | None = None) -> DuckDBResource:
    # DuckDB uses every core by default.
    config: dict[str, str | int] = {
        "preserve_insertion_order": "true",
        "memory_limit": os.environ.get("POPCARE_DUCKDB_MEMORY") or DEFAULT_DUCKDB_MEMORY,
    }
    return DuckDBResource(database=database or warehouse_from_env(), connection_config=config)


def build_resources() -> dict[str, PopcareSettings | DuckDBResource]:
    return {"settings": settings_from_env(), "duckdb": duckdb_resource()}
