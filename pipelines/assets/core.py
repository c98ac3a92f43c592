"""Core layer: the clinical model (claims, people, coverage, encounters, stays, codes, results)."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from pipelines.core import CORE_TABLES, CoreTable, build_core_table
from pipelines.settings import PopcareSettings


def _metadata_value(value: int | float) -> MetadataValue:
    return MetadataValue.int(value) if isinstance(value, int) else MetadataValue.float(value)


def _core_asset(table: CoreTable) -> AssetsDefinition:
    deps = [AssetKey(["staging", name]) for name in table.staging]
    deps += [AssetKey(["core", name]) for name in table.core]

    @asset(
        key=AssetKey(["core", table.name]),
        group_name="core",
        deps=deps,
        compute_kind="duckdb",
        description=table.description,
    )
    def _build(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        as_of = settings.as_of_date()
        with duckdb.get_connection() as con:
            stats = build_core_table(con, table.name, as_of)
        # Counts and rates only: no identifiers reach the log or the run database.
        context.log.info(f"core.{table.name}: {stats['rows']} rows")
        metadata = {key: _metadata_value(value) for key, value in stats.items()}
        metadata["as_of"] = MetadataValue.text(as_of.isoformat())
        return MaterializeResult(metadata=metadata)

    return _build


core_assets = [_core_asset(table) for table in CORE_TABLES]
