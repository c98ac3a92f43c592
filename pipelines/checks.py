"""Asset checks: data-quality gates that show in the Dagster UI next to each asset."""

from datetime import datetime

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from pipelines.contract import TABLES
from pipelines.contract_suites import validate_table
from pipelines.settings import PopcareSettings
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


def _contract_suite_check(table_name: str) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["staging", table_name]),
        name="contract_suite",
        blocking=True,
        description=(
            "Great Expectations contract suite: columns, required keys, code formats, dates up to "
            "the as-of date (blocking); value sets and unique ids (reported)."
        ),
    )
    def _check(
        context: AssetCheckExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> AssetCheckResult:
        as_of = settings.as_of_date()
        with duckdb.get_connection() as con:
            outcome = validate_table(con, table_name, as_of)
            run_sql(con, "raw/audit_tables")
            run_sql(
                con,
                "staging/record_contract_result",
                params={
                    "run_id": context.run.run_id,
                    "table_name": table_name,
                    "rows_in_table": outcome.rows_in_table,
                    "rows_validated": outcome.rows_validated,
                    "expectations_evaluated": outcome.evaluated,
                    "failed_critical": "; ".join(outcome.failed_critical) or None,
                    "failed_warning": "; ".join(outcome.failed_warning) or None,
                    "passed": outcome.passed,
                    "validated_at": datetime.now(),
                },
            )
        return AssetCheckResult(
            passed=outcome.passed,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "expectations_evaluated": MetadataValue.int(outcome.evaluated),
                "rows_validated": MetadataValue.int(outcome.rows_validated),
                "rows_in_table": MetadataValue.int(outcome.rows_in_table),
                "failed_blocking": MetadataValue.text("; ".join(outcome.failed_critical) or "none"),
                "failed_reported": MetadataValue.text("; ".join(outcome.failed_warning) or "none"),
            },
        )

    return _check


staging_checks = [_contract_suite_check(name) for name in TABLES]
