"""The run report: OUT/report/<as_of>/index.html, the night's key numbers and charts on one page.

A thin shell over :func:`pipelines.report.write_run_report`. Metadata carries the path, sizes and
counts only: never a name, an identifier or a row.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from pipelines.assets.outreach import FILES_KEY
from pipelines.assets.risk import RISK_SCORES, model_home
from pipelines.report import write_run_report
from pipelines.settings import PopcareSettings

REPORT_KEY = AssetKey(["report", "run_report"])
MEASURE_RATES = AssetKey(["marts", "measure_rates"])
READMISSION_RATES = AssetKey(["marts", "readmission_rates"])


@asset(
    key=REPORT_KEY,
    group_name="report",
    deps=[FILES_KEY, MEASURE_RATES, READMISSION_RATES, RISK_SCORES],
    compute_kind="plotly",
    description=(
        "The nightly run report (OUT/report/<as_of>/index.html, self-contained, owner-only): "
        "population, measure rates with the trend since the last report, readmissions, risk tiers "
        "and model calibration, data quality and outreach list sizes. Aggregates only."
    ),
)
def run_report(
    context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
) -> MaterializeResult:
    as_of = settings.as_of_date()
    with duckdb.get_connection() as con:
        stats = write_run_report(
            con,
            settings.out_path,
            as_of,
            context.run_id,
            models_home=model_home(duckdb.database, settings),
        )
    for table in stats["not_built"]:
        context.log.warning(f"{table} is not built: the report says so in its section")
    compared = stats["compared_with"]
    context.log.info(
        f"run report: {stats['charts']} charts, {stats['measures']} measures, "
        f"trend {'against ' + str(compared['as_of']) if compared else 'not available'}"
    )
    return MaterializeResult(
        metadata={
            "as_of": MetadataValue.text(as_of.isoformat()),
            "path": MetadataValue.path(stats["path"]),
            "summary": MetadataValue.path(stats["summary"]),
            "size_bytes": MetadataValue.int(int(stats["bytes"])),
            "charts": MetadataValue.int(int(stats["charts"])),
            "measures": MetadataValue.int(int(stats["measures"])),
            "trend_available": MetadataValue.bool(bool(stats["trend_available"])),
            "compared_with": MetadataValue.text(
                f"{compared['as_of']} ({compared['basis']})" if compared else "none"
            ),
            "not_built": MetadataValue.text(", ".join(stats["not_built"]) or "none"),
        }
    )


report_assets = [run_report]
