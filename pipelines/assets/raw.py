"""Raw layer: every contract table loaded as received, with lineage, idempotently per file."""

from datetime import datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from pipelines.contract import TABLES
from pipelines.ingest import check_person_source, load_table, take_inventory
from pipelines.settings import PopcareSettings

INVENTORY_KEY = AssetKey(["raw", "input_inventory"])


@asset(key=INVENTORY_KEY, group_name="raw", compute_kind="python")
def input_inventory(context: AssetExecutionContext, settings: PopcareSettings) -> MaterializeResult:
    """Which contract tables the extract holds, and which files popcare ignores."""
    inventory = take_inventory(settings.input_path)
    check_person_source(inventory, settings.input_path)
    present = inventory.tables_present()
    context.log.info(f"{len(present)} of {len(TABLES)} contract tables present")
    return MaterializeResult(
        metadata={
            "tables_present": MetadataValue.int(len(present)),
            "tables_missing": MetadataValue.text(
                ", ".join(t for t in TABLES if t not in present) or "none"
            ),
            "files": MetadataValue.int(sum(len(f) for f in inventory.files.values())),
            "ignored_files": MetadataValue.int(len(inventory.ignored)),
            "as_of": MetadataValue.text(settings.as_of_date().isoformat()),
        }
    )


def _raw_asset(table_name: str) -> AssetsDefinition:
    table = TABLES[table_name]

    @asset(
        key=AssetKey(["raw", table_name]),
        group_name="raw",
        deps=[INVENTORY_KEY],
        compute_kind="duckdb",
        description=f"{table.description} Loaded as received (text) with file lineage.",
    )
    def _load(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        files = take_inventory(settings.input_path).files[table_name]
        with duckdb.get_connection() as con:
            result = load_table(con, table_name, files, context.run_id, datetime.now())
        context.log.info(
            f"raw.{table_name}: {len(result.files_loaded)} file(s) loaded, "
            f"{len(result.files_unchanged)} unchanged, {result.rows_loaded} rows loaded"
        )
        return MaterializeResult(
            metadata={
                "files_loaded": MetadataValue.int(len(result.files_loaded)),
                "files_unchanged": MetadataValue.int(len(result.files_unchanged)),
                "rows_read": MetadataValue.int(result.rows_read),
                "rows_loaded": MetadataValue.int(result.rows_loaded),
                "rows_quarantined": MetadataValue.int(result.rows_quarantined),
                "rows_in_table": MetadataValue.int(result.rows_in_table),
            }
        )

    return _load


raw_assets = [input_inventory, *(_raw_asset(name) for name in TABLES)]
