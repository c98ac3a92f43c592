"""Readmissions marts: CMS hospital-wide 30-day readmissions (all payers) and a PCR-style rate."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from pipelines.readmissions import (
    build_readmission_index_stays,
    build_readmission_pcr,
    build_readmission_rates,
    override_dir_from_env,
)
from pipelines.settings import PopcareSettings

# The core tables the readmission SQL reads (marts/readmission__stay_code, __stay, ...).
_CORE_DEPS = [
    AssetKey(["core", name])
    for name in ("inpatient_stay", "encounter", "procedure", "enrollment", "person")
]
_INDEX_STAYS = AssetKey(["marts", "readmission_index_stays"])


def _metadata(stats: dict[str, int | float]) -> dict[str, MetadataValue]:
    # Counts and rates only: no identifiers reach the log or the run database.
    return {
        key: MetadataValue.int(value) if isinstance(value, int) else MetadataValue.float(value)
        for key, value in stats.items()
    }


@asset(
    key=_INDEX_STAYS,
    group_name="marts",
    deps=_CORE_DEPS,
    compute_kind="duckdb",
    description=(
        "Every acute inpatient stay: is it an index stay of the CMS hospital-wide readmission "
        "measure (all payers), and was it followed by an unplanned readmission within 30 days."
    ),
)
def readmission_index_stays(
    context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
) -> MaterializeResult:
    as_of = settings.as_of_date()
    with duckdb.get_connection() as con:
        stats = build_readmission_index_stays(con, as_of, override_dir_from_env())
    context.log.info(
        f"marts.readmission_index_stays: {stats['index_stays']} index stays, "
        f"{stats['readmissions']} unplanned readmissions"
    )
    metadata = _metadata(stats)
    metadata["as_of"] = MetadataValue.text(as_of.isoformat())
    return MaterializeResult(metadata=metadata)


@asset(
    key=AssetKey(["marts", "readmission_rates"]),
    group_name="marts",
    deps=[_INDEX_STAYS],
    compute_kind="duckdb",
    description=(
        "Observed 30-day unplanned readmission rates, overall and by discharge month, facility, "
        "payer and age band."
    ),
)
def readmission_rates(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    with duckdb.get_connection() as con:
        stats = build_readmission_rates(con)
    context.log.info(f"marts.readmission_rates: overall rate {stats['overall_rate']}")
    return MaterializeResult(metadata=_metadata(stats))


@asset(
    key=AssetKey(["marts", "readmission_pcr"]),
    group_name="marts",
    deps=[_INDEX_STAYS, AssetKey(["core", "encounter"])],
    compute_kind="duckdb",
    description=(
        "HEDIS PCR-style observed readmission rate (inpatient and observation stays, planned "
        "readmissions excluded) for ages 18-64 and 65+ in the measurement period."
    ),
)
def readmission_pcr(
    context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
) -> MaterializeResult:
    as_of = settings.as_of_date()
    period = settings.period()
    with duckdb.get_connection() as con:
        stats = build_readmission_pcr(con, as_of, period.start, period.end)
    context.log.info(f"marts.readmission_pcr: measurement period {period.label}")
    metadata = _metadata(stats)
    metadata["measurement_period"] = MetadataValue.text(period.label)
    return MaterializeResult(metadata=metadata)


readmission_assets = [readmission_index_stays, readmission_rates, readmission_pcr]
