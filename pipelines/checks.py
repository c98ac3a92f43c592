"""Asset checks: data-quality gates that show in the Dagster UI next to each asset."""

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from pipelines.contract import TABLES
from pipelines.sql import quote_ident, run_sql


def _reconciliation_check(table_name: str) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["raw", table_name]),
        name="rows_reconcile_with_load_log",
        blocking=True,
        description="Every file's rows in the table equal the rows its last load logged.",
    )
    def _check(duckdb: DuckDBResource) -> AssetCheckResult:
        with duckdb.get_connection() as con:
            mismatches = run_sql(
                con,
                "raw/reconcile_load_log",
                params={"table_name": table_name},
                identifiers={"table": quote_ident(table_name)},
            ).fetchall()
        return AssetCheckResult(
            passed=not mismatches,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "files_out_of_balance": MetadataValue.int(len(mismatches)),
                "files": MetadataValue.text(", ".join(m[0] for m in mismatches) or "none"),
            },
        )

    return _check


raw_checks = [_reconciliation_check(name) for name in TABLES]
