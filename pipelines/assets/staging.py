"""Staging layer: raw tables typed and validated; rows that break a rule are quarantined."""

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
from pipelines.dq_report import render_report, write_report
from pipelines.settings import PopcareSettings
from pipelines.staging import RULES, stage_table

PERSON_TABLES = ("eligibility", "patient")


def _staging_asset(table_name: str) -> AssetsDefinition:
    deps = [AssetKey(["raw", table_name])]
    if RULES[table_name].check_person:
        # unknown_person compares against everyone in the extract's eligibility and patient files.
        deps += [AssetKey(["raw", t]) for t in PERSON_TABLES]

    @asset(
        key=AssetKey(["staging", table_name]),
        group_name="staging",
        deps=deps,
        compute_kind="duckdb",
        description=(
            f"{TABLES[table_name].description} Typed and validated; rows breaking a rule are in "
            "audit.quarantine with the rule and column."
        ),
    )
    def _stage(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        with duckdb.get_connection() as con:
            result = stage_table(con, table_name, settings.as_of_date())
        if result.files_unbalanced:
            raise RuntimeError(
                f"staging.{table_name}: rows read != rows loaded + rows quarantined for "
                f"{len(result.files_unbalanced)} file(s): {', '.join(result.files_unbalanced)}. "
                "This is a popcare bug: please report it with audit.file_reconciliation."
            )
        quarantined_share = result.rows_quarantined / result.rows_read if result.rows_read else 0.0
        context.log.info(
            f"staging.{table_name}: {result.rows_loaded} rows staged, "
            f"{result.rows_quarantined} quarantined"
        )
        top = ", ".join(f"{rule} {n}" for rule, n in list(result.by_rule.items())[:5])
        return MaterializeResult(
            metadata={
                "rows_read": MetadataValue.int(result.rows_read),
                "rows_loaded": MetadataValue.int(result.rows_loaded),
                "rows_quarantined": MetadataValue.int(result.rows_quarantined),
                "quarantined_share": MetadataValue.float(round(quarantined_share, 5)),
                "values_corrected": MetadataValue.int(result.corrections),
                "top_quarantine_reasons": MetadataValue.text(top or "none"),
                "rows_in_table": MetadataValue.int(result.rows_loaded),
            }
        )

    return _stage


staging_assets = [_staging_asset(name) for name in TABLES]


@asset(
    key=AssetKey(["audit", "data_quality_report"]),
    group_name="audit",
    deps=[AssetKey(["staging", name]) for name in TABLES],
    compute_kind="html",
    description="Data-quality report (HTML, counts only): rows read, loaded, quarantined by rule.",
)
def data_quality_report(
    context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
) -> MaterializeResult:
    as_of = settings.as_of_date()
    with duckdb.get_connection() as con:
        page, figures = render_report(con, as_of, context.run_id)
    path = write_report(settings.out_path, as_of, page)
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "rows_read": MetadataValue.int(figures["rows_read"]),
            "rows_quarantined": MetadataValue.int(figures["rows_quarantined"]),
            "quarantined_share": MetadataValue.float(figures["quarantined_share"]),
            "suites_failing": MetadataValue.int(figures["suites_failing"]),
        }
    )


staging_assets.append(data_quality_report)
