"""Readmission rates on a generated population are plausible against public figures.

10,000 people over 2023-10-01 .. 2026-09-30 (seed 20260930), generated, loaded, staged and built
through core and the marts exactly as a run would (only the tables the readmission marts read are
loaded; the rest are empty). A 20,000-person run takes about a minute on a 2-core machine, so the
test uses 10,000 (~30 s). Measured with this fixture (docs/measures/readmissions.md, "Plausibility"):
Medicare 14.4% (1,242 index stays), commercial 18-64 8.8% (329), all payers 13.9% (1,766).
"""

from datetime import date, datetime

import duckdb
import pytest

from pipelines.contract import TABLES
from pipelines.core import build_core
from pipelines.ingest import load_table, take_inventory
from pipelines.readmissions import build_readmissions
from pipelines.staging import stage_table
from pipelines.synthetic import generate
from tests.core_fixtures import create_staging_table

pytestmark = pytest.mark.slow

PEOPLE = 10_000
SEED = 20260930
START, END = date(2023, 10, 1), date(2026, 9, 30)
STAGED = ("eligibility", "patient", "registry", "medical_claim", "encounter", "procedure")
CORE = (
    "medical_claim_adjudication",
    "medical_claim_final",
    "person",
    "enrollment",
    "inpatient_stay_claim",
    "inpatient_stay",
    "encounter_link",
    "encounter",
    "procedure",
)

# Public figures (HCUP SB #248, NRD 2016, all-cause incl. planned: Medicare 17.1, private 8.6
# including maternal stays, which the generator does not simulate; HCUP SB #115: private
# non-maternal adults 10.1-11.9; unplanned-only expectation Medicare ~14-17, commercial 18-64
# ~8-10, /work/shared/reference/readmissions.md) widened below by about two standard errors of this
# run for Medicare (+/-1.0 point at ~1,250 index stays) and one for commercial (+/-1.5 at ~330),
# not above. Seeds 1, 2, 3 of the same run: Medicare 14.8 / 13.0 / 13.0, commercial 18-64
# 9.2 / 8.2 / 6.9, all payers 13.7 / 12.1 / 11.5 (docs/measures/readmissions.md).
MEDICARE_RANGE = (0.12, 0.17)
COMMERCIAL_18_64_RANGE = (0.065, 0.10)
ALL_PAYER_RANGE = (0.10, 0.16)


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    out = tmp_path_factory.mktemp("population")
    generate(PEOPLE, SEED, START, END, out, "parquet")
    con = duckdb.connect()
    inventory = take_inventory(out)
    for name in STAGED:
        load_table(con, name, inventory.files[name], "L1", datetime(2026, 9, 30, 2))
        stage_table(con, name, END)
    for name in TABLES:
        if name not in STAGED:
            create_staging_table(con, name)
    build_core(con, END, names=CORE)
    stats = build_readmissions(con, END, date(2025, 1, 1), date(2025, 12, 31))
    yield con, stats
    con.close()


def test_medicare_and_commercial_rates_are_plausible(population):
    _, stats = population
    index = stats["readmission_index_stays"]
    assert index["medicare_index_stays"] > 1000
    assert index["commercial_18_64_index_stays"] > 250
    assert MEDICARE_RANGE[0] <= index["medicare_rate"] <= MEDICARE_RANGE[1]
    assert COMMERCIAL_18_64_RANGE[0] <= index["commercial_18_64_rate"] <= COMMERCIAL_18_64_RANGE[1]
    assert ALL_PAYER_RANGE[0] <= index["overall_rate"] <= ALL_PAYER_RANGE[1]
    # Medicare readmits more than commercial, as in every public series.
    assert index["medicare_rate"] > index["commercial_18_64_rate"]


def test_every_stay_is_accounted_for_and_the_generators_planned_care_is_recognised(population):
    con, stats = population
    index = stats["readmission_index_stays"]
    excluded = sum(v for k, v in index.items() if k.startswith("excluded_"))
    assert index["index_stays"] + excluded == index["stays"]
    # Chemotherapy cycles (Z51.11) are always planned; elective arthroplasty and PCI (non-acute
    # principal diagnosis) are potentially planned and planned; kidney transplants always planned.
    reasons = dict(
        con.execute(
            "select planned_reason, count(*) from marts.readmission__stay "
            "where planned_reason is not null group by all"
        ).fetchall()
    )
    assert set(reasons) == {
        "always_planned_diagnosis",
        "always_planned_procedure",
        "potentially_planned_procedure",
    }
    # Every generated principal diagnosis and procedure is classified by the shipped crosswalk.
    assert con.execute(
        "select count(*) from marts.readmission__stay_code where ccs is null"
    ).fetchone() == (0,)
    assert 0 < index["planned_share"] < 0.10


def test_rates_table_and_pcr_agree_with_the_index_stays(population):
    con, stats = population
    rates = stats["readmission_rates"]
    index = stats["readmission_index_stays"]
    assert rates["overall_rate"] == index["overall_rate"]
    assert rates["medicare_rate"] == index["medicare_rate"]
    months = con.execute(
        "select sum(index_stays), sum(readmissions) from marts.readmission_rates "
        "where grouping = 'discharge_month'"
    ).fetchone()
    assert months == (index["index_stays"], index["readmissions"])
    pcr = stats["readmission_pcr"]
    assert pcr["index_stays_18_64"] > 100 and pcr["index_stays_65_plus"] > 200
    assert 0.05 <= pcr["observed_rate_65_plus"] <= 0.20
