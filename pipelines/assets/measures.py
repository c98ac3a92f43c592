"""Quality-measure marts: one row per measure and patient (or index discharge), and stratified rates.

The rules live in measures/definitions/*.yml and sql/marts/measures/; pipelines/measures.py compiles
and runs them (docs/measures/README.md). These assets only choose the period and record counts and
rates: never a person, claim or encounter identifier.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from pipelines.measures import (
    build_measure_patient,
    build_measure_rates,
    load_measures,
    rates_summary,
    value_set_override_dir,
)
from pipelines.settings import PopcareSettings

# The core tables the building blocks read (sql/marts/measures/**); a test checks this list.
MEASURE_CORE_INPUTS = (
    "person",
    "enrollment",
    "member_months",
    "diagnosis",
    "procedure",
    "lab",
    "vital",
    "pharmacy_fill",
    "encounter",
    "inpatient_stay",
)


def _summary_metadata(summary: dict[str, dict[str, float]]) -> dict[str, MetadataValue]:
    metadata: dict[str, MetadataValue] = {}
    for measure_id, values in summary.items():
        metadata[f"{measure_id}_denominator"] = MetadataValue.float(values["denominator"])
        metadata[f"{measure_id}_exclusions"] = MetadataValue.float(values["exclusions"])
        metadata[f"{measure_id}_numerator"] = MetadataValue.float(values["numerator"])
        rate = values["rate"]
        # An empty denominator has no rate: recorded as NaN so every measure keeps its key.
        metadata[f"{measure_id}_rate"] = MetadataValue.float(float("nan") if rate is None else rate)
        if "gaps_open" in values:
            metadata[f"{measure_id}_gaps_open"] = MetadataValue.int(int(values["gaps_open"]))
    return metadata


@asset(
    key=AssetKey(["marts", "measure_patient"]),
    group_name="marts",
    deps=[AssetKey(["core", name]) for name in MEASURE_CORE_INPUTS],
    compute_kind="duckdb",
    description=(
        "Quality measures per patient: who is in each measure's denominator, excluded or in the "
        "numerator for the measurement period, whether a care gap is still open, and why."
    ),
)
def measure_patient(
    context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
) -> MaterializeResult:
    period = settings.period()
    as_of = settings.as_of_date()
    measure_list = load_measures()
    with duckdb.get_connection() as con:
        summary = build_measure_patient(
            con, period.start, period.end, as_of, measure_list, value_set_override_dir()
        )
    context.log.info(
        f"marts.measure_patient: {len(measure_list)} measures for {period.start} to {period.end}"
    )
    metadata = _summary_metadata(summary)
    metadata["period_start"] = MetadataValue.text(period.start.isoformat())
    metadata["period_end"] = MetadataValue.text(period.end.isoformat())
    metadata["as_of"] = MetadataValue.text(as_of.isoformat())
    return MaterializeResult(metadata=metadata)


@asset(
    key=AssetKey(["marts", "measure_rates"]),
    group_name="marts",
    deps=[
        AssetKey(["marts", "measure_patient"]),
        AssetKey(["core", "person"]),
        AssetKey(["core", "enrollment"]),
        AssetKey(["staging", "provider_attribution"]),
    ],
    compute_kind="duckdb",
    description=(
        "Quality-measure rates for the period, overall and by age band, sex, race, ethnicity, "
        "payer and attributed practice."
    ),
)
def measure_rates(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    measure_list = load_measures()
    with duckdb.get_connection() as con:
        rows = build_measure_rates(con, measure_list)
        summary = rates_summary(con, measure_list)
    context.log.info(f"marts.measure_rates: {rows} rows")
    metadata = _summary_metadata(summary)
    metadata["rows"] = MetadataValue.int(rows)
    return MaterializeResult(metadata=metadata)


measure_assets = [measure_patient, measure_rates]
