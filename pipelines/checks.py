"""Asset checks: data-quality gates that show in the Dagster UI next to each asset.

Every check is blocking with ERROR severity: a failure stops every asset downstream of the checked
one in the same run, and the outreach lists (downstream of every checked asset) are then not
published; the previous lists stay (docs/orchestration.md, pipelines/publication.py).

- ``raw/<table>`` ``rows_reconcile_with_load_log``: rows per file equal what its load logged.
- ``staging/<table>`` ``contract_suite``: the Great Expectations contract suite.
- ``staging/<table>``, ``core/<table>`` ``row_count_drop``: at most POPCARE_MAX_ROW_DROP fewer rows
  than in the last published run (audit.row_counts).
- ``marts/measure_rates`` ``rates_within_sanity_bands`` and ``marts/readmission_rates``
  ``overall_rate_within_sanity_band``: overall rates inside measures/sanity_bands.csv.
"""

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
from pipelines.publication import (
    GATED_TABLES,
    BandOutcome,
    band_summary,
    load_sanity_bands,
    measure_band_outcomes,
    readmission_band_outcome,
    row_drop_outcome,
)
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


def _row_drop_check(schema: str, table_name: str) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey([schema, table_name]),
        name="row_count_drop",
        blocking=True,
        description=(
            "The table holds at most POPCARE_MAX_ROW_DROP (default 50%) fewer rows than in the last "
            "run that published outreach lists (audit.row_counts); the first run passes."
        ),
    )
    def _check(settings: PopcareSettings, duckdb: DuckDBResource) -> AssetCheckResult:
        max_drop = settings.max_row_drop_fraction()
        with duckdb.get_connection() as con:
            outcome = row_drop_outcome(con, schema, table_name, max_drop)
        previous = outcome.previous
        return AssetCheckResult(
            passed=outcome.passed,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "rows": MetadataValue.int(outcome.current),
                "previous_rows": MetadataValue.int(previous.row_count if previous else 0),
                "previous_as_of": MetadataValue.text(
                    previous.as_of.isoformat() if previous else "no previous run"
                ),
                "drop": MetadataValue.float(outcome.drop if outcome.drop is not None else 0.0),
                "max_drop": MetadataValue.float(max_drop),
                "reason": MetadataValue.text(outcome.reason),
            },
        )

    return _check


row_drop_checks = [_row_drop_check(schema, name) for schema, name in GATED_TABLES]


def _band_result(outcomes: list[BandOutcome]) -> AssetCheckResult:
    summary = band_summary(outcomes)
    return AssetCheckResult(
        passed=all(o.passed for o in outcomes),
        severity=AssetCheckSeverity.ERROR,
        metadata={
            key: MetadataValue.int(value) if isinstance(value, int) else MetadataValue.text(value)
            for key, value in summary.items()
        },
    )


@asset_check(
    asset=AssetKey(["marts", "measure_rates"]),
    name="rates_within_sanity_bands",
    blocking=True,
    description=(
        "Each measure's overall rate is inside its wide 'the pipeline is broken' band "
        "(measures/sanity_bands.csv); measures with fewer eligible units than the band's "
        "min_denominator are skipped, with the reason."
    ),
)
def measure_rates_within_sanity_bands(duckdb: DuckDBResource) -> AssetCheckResult:
    bands = load_sanity_bands()
    with duckdb.get_connection() as con:
        outcomes = measure_band_outcomes(con, bands)
    return _band_result(outcomes)


@asset_check(
    asset=AssetKey(["marts", "readmission_rates"]),
    name="overall_rate_within_sanity_band",
    blocking=True,
    description=(
        "The overall observed 30-day readmission rate is inside its sanity band "
        "(measures/sanity_bands.csv, readmission_30d); skipped below min_denominator index stays."
    ),
)
def readmission_rate_within_sanity_band(duckdb: DuckDBResource) -> AssetCheckResult:
    bands = load_sanity_bands()
    with duckdb.get_connection() as con:
        outcome = readmission_band_outcome(con, bands)
    return _band_result([outcome])


publication_checks = [
    *row_drop_checks,
    measure_rates_within_sanity_bands,
    readmission_rate_within_sanity_band,
]
