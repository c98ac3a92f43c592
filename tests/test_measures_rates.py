"""EDU (ED visits per 1,000 member years), marts.measure_rates strata, and the Dagster assets."""

import math

import duckdb
import pytest
from dagster import AssetKey, materialize
from dagster_duckdb import DuckDBResource

from pipelines.assets.measures import MEASURE_CORE_INPUTS, measure_assets
from pipelines.core import build_core
from pipelines.settings import PopcareSettings
from tests.test_measures_support import AS_OF, Population, one, run, stage


def population() -> Population:
    pop = Population()
    # EDU: adults enrolled all of 2025 (one member year each).
    pop.person("EDU_TWO", "1980-06-01")
    pop.ed_visit("EDU_TWO", "2025-02-01")
    pop.ed_visit("EDU_TWO", "2025-09-01")
    pop.person("EDU_ADMITTED", "1980-06-01")
    pop.ed_visit("EDU_ADMITTED", "2025-04-01")  # led to the admission: part of the stay
    pop.stay("EDU_ADMITTED", "2025-04-01", "2025-04-04", "J189")
    pop.person("EDU_MENTAL_HEALTH", "1980-06-01")
    pop.ed_visit("EDU_MENTAL_HEALTH", "2025-05-01", dx1="F329")
    pop.person("EDU_NONE", "1980-06-01")
    pop.person("EDU_HOSPICE", "1940-06-01")
    pop.ed_visit("EDU_HOSPICE", "2025-03-01")
    pop.hospice("EDU_HOSPICE", "2025-06-01", "2025-06-20")
    pop.person("EDU_CHILD", "2010-06-01")
    pop.ed_visit("EDU_CHILD", "2025-03-01")
    # Breast cancer screening across practices, payers and age bands.
    for pid, birth, payer, practice, screened in (
        ("BCS_PR01_SCREENED", "1960-06-01", "commercial", "PR01", True),
        ("BCS_PR01_DUE", "1978-06-01", "commercial", "PR01", False),
        ("BCS_PR02_SCREENED", "1955-06-01", "medicare", "PR02", True),
        ("BCS_UNATTRIBUTED_DUE", "1965-06-01", "medicaid", None, False),
    ):
        pop.person(pid, birth, payer_type=payer)
        pop.visit(pid, "2025-03-01")
        if screened:
            pop.claim(pid, "2025-05-01", ("77067",), pos="22")
        if practice:
            pop.attribution(pid, "202511", "PR99")  # superseded by the later month
            pop.attribution(pid, "202512", practice)
    return pop


@pytest.fixture(scope="module")
def con():
    connection = population().build()
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def rows(con):
    return run(con, ["edu", "cms125"], rates=True)


def rates(con, measure):
    return {
        (stratum, value): (denominator, exclusions, numerator, rate, unit)
        for stratum, value, denominator, exclusions, numerator, rate, unit in con.execute(
            "select stratum, stratum_value, denominator, exclusions, numerator, rate, rate_unit "
            "from marts.measure_rates where measure_id = $m",
            {"m": measure},
        ).fetchall()
    }


def test_ed_visits_are_counted_per_person_and_weighted_by_member_years(rows):
    two = one(rows, "edu", "EDU_TWO")
    assert two["in_numerator"] and two["numerator_count"] == 2
    assert two["denominator_weight"] == 1.0
    assert two["evidence"] == "2 ED visit(s), latest 2025-09-01"
    for pid in ("EDU_ADMITTED", "EDU_MENTAL_HEALTH", "EDU_NONE"):
        row = one(rows, "edu", pid)
        assert row["in_denominator"] and not row["in_numerator"], pid
        assert row["numerator_count"] == 0
    assert ("edu", "EDU_CHILD") not in rows
    assert one(rows, "edu", "EDU_HOSPICE")["exclusion_reason"] == "hospice"
    assert not any(r["gap_open"] for (m, _), rs in rows.items() if m == "edu" for r in rs)


def test_ed_rate_is_visits_per_1000_member_years_after_exclusions(rows, con):
    edu = rates(con, "edu")
    # Nine adults (the five above and the four women below), one excluded: 2 visits / 8
    # member years.
    assert edu[("overall", "all")] == (9.0, 1.0, 2.0, 250.0, "per_1000_member_years")


def test_screening_rates_overall_and_by_stratum(rows, con):
    bcs = rates(con, "cms125")
    assert bcs[("overall", "all")] == (4.0, 0.0, 2.0, 0.5, "proportion")
    assert bcs[("practice", "PR01")][2:4] == (1.0, 0.5)
    assert bcs[("practice", "PR02")][2:4] == (1.0, 1.0)
    assert bcs[("practice", "unattributed")][2:4] == (0.0, 0.0)
    assert bcs[("payer", "medicaid")][0] == 1.0
    assert bcs[("age_band", "42-51")] == (1.0, 0.0, 0.0, 0.0, "proportion")  # born 1978
    assert bcs[("age_band", "52-74")][0] == 3.0
    assert bcs[("sex", "female")][0] == 4.0
    assert ("race", "white") in bcs and ("ethnicity", "not hispanic or latino") in bcs


def test_every_stratum_partitions_the_overall_denominator(rows, con):
    totals = con.execute(
        """
        select measure_id, stratum, sum(denominator), sum(numerator)
        from marts.measure_rates group by measure_id, stratum
        """
    ).fetchall()
    overall = {m: (d, n) for m, s, d, n in totals if s == "overall"}
    for measure, stratum, denominator, numerator in totals:
        assert (denominator, numerator) == overall[measure], (measure, stratum)


def test_measure_assets_keys_groups_and_lineage():
    by_key = {a.key: a for a in measure_assets}
    patient = by_key[AssetKey(["marts", "measure_patient"])]
    rate = by_key[AssetKey(["marts", "measure_rates"])]
    assert patient.group_names_by_key[patient.key] == "marts"
    assert patient.descriptions_by_key[patient.key]
    deps = {d.asset_key for d in patient.specs_by_key[patient.key].deps}
    assert deps == {AssetKey(["core", name]) for name in MEASURE_CORE_INPUTS}
    rate_deps = {d.asset_key for d in rate.specs_by_key[rate.key].deps}
    assert AssetKey(["marts", "measure_patient"]) in rate_deps
    assert AssetKey(["staging", "provider_attribution"]) in rate_deps


def test_materialize_measure_assets_records_counts_and_rates_only(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    stage(con, population().tables)
    build_core(con, AS_OF)
    con.close()
    result = materialize(
        measure_assets,
        resources={
            "settings": PopcareSettings(
                input_dir=str(tmp_path),
                out_dir=str(tmp_path / "out"),
                as_of="2026-09-30",
                measurement_year="2025",
            ),
            "duckdb": DuckDBResource(database=str(warehouse)),
        },
    )
    assert result.success
    metadata = {
        event.asset_key.path[-1]: event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    patient = {k: v.value for k, v in metadata["measure_patient"].items()}
    assert patient["cms125_denominator"] == 4.0
    assert patient["cms125_numerator"] == 2.0
    assert patient["cms125_rate"] == 0.5
    assert patient["edu_rate"] == 250.0
    assert math.isnan(patient["fuh7_rate"])  # no discharges: no rate, but the key is there
    assert patient["period_start"] == "2025-01-01"
    rates_metadata = {k: v.value for k, v in metadata["measure_rates"].items()}
    assert rates_metadata["cms125_rate"] == 0.5
    assert rates_metadata["rows"] > 0
    # No identifiers reach the run database: numbers, plus the period and as-of dates.
    for values in (patient, rates_metadata):
        for key, value in values.items():
            assert isinstance(value, int | float) or key in ("period_start", "period_end", "as_of")
