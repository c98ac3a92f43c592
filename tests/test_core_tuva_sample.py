"""The core model on the public Tuva Input Layer sample (10 Medicare persons, 2016-2018).

The sample is loaded with a crude stand-in for staging (text read, try_cast to contract types); the
numbers pinned here are what core finds in it. See /work/shared/data/README.md for the sample.
"""

from datetime import date

import duckdb
import pytest

from pipelines.core import build_core
from pipelines.settings import REPO_ROOT
from tests.core_fixtures import load_tuva_sample

AS_OF = date(2018, 12, 31)
TUVA_SAMPLE = REPO_ROOT.parent / "shared" / "data" / "tuva-synthetic-10"


@pytest.fixture(scope="module")
def tuva_core():
    if not TUVA_SAMPLE.is_dir():
        pytest.skip(f"public Tuva sample not found at {TUVA_SAMPLE} (../shared/data is absent)")
    con = duckdb.connect()
    load_tuva_sample(con, TUVA_SAMPLE)  # read-only: nothing is written next to the files
    stats = build_core(con, AS_OF)
    yield con, stats
    con.close()


def test_six_inpatient_stays_including_the_10046_readmission(tuva_core):
    con, stats = tuva_core
    stays = con.execute(
        "select person_id, facility_npi, admission_date, discharge_date, length_of_stay, "
        "discharge_disposition_code, drg_code, is_transfer_in, is_transfer_out "
        "from core.inpatient_stay order by person_id, admission_date"
    ).fetchall()
    # Five claims with bill type 111 and one 110 (a no-payment claim, paid 0.00): six stays, none
    # merged (no two claims of a person overlap or touch at one facility) and no transfers.
    assert stays == [
        ("10007", "1861435042", date(2018, 2, 20), date(2018, 2, 23), 3, "01", "205", False, False),
        (
            "10017",
            "1447200233",
            date(2017, 10, 9),
            date(2017, 10, 11),
            2,
            "01",
            "881",
            False,
            False,
        ),
        ("10017", "1447200233", date(2018, 3, 28), date(2018, 3, 30), 2, "07", "871", False, False),
        ("10046", "1164469243", date(2018, 4, 7), date(2018, 4, 10), 3, "62", "291", False, False),
        ("10046", "1194749580", date(2018, 4, 17), date(2018, 4, 24), 7, "03", "292", False, False),
        ("10111", "1730123175", date(2016, 2, 21), date(2016, 2, 22), 1, "01", "191", False, False),
    ]
    assert stats["inpatient_stay"]["mean_length_of_stay"] == 3.0
    # 10046: discharged to an inpatient rehab facility (62), readmitted 7 days later elsewhere.
    first, second = con.execute(
        "select transfer_chain_id, discharge_date from core.inpatient_stay "
        "where person_id = '10046' order by admission_date"
    ).fetchall()
    assert first[0] != second[0]
    assert (date(2018, 4, 17) - first[1]).days == 7


def test_claims_adjudication_keeps_every_line_of_the_sample(tuva_core):
    _, stats = tuva_core
    # The sample carries no adjustments, reversals or denials. Its 225 $0 lines are quality-data
    # codes (CPT II, G-codes) billed at a $0.00 charge: they stay (the denied rule skips them).
    assert stats["medical_claim_adjudication"]["lines_final"] == 2075
    assert stats["medical_claim_adjudication"]["lines_denied"] == 0
    assert stats["medical_claim_final"]["claims"] == 1138


def test_encounters_people_and_results_of_the_sample(tuva_core):
    con, stats = tuva_core
    assert stats["person"]["rows"] == 10
    assert stats["member_months"]["rows"] == 309
    encounter = stats["encounter"]
    assert encounter["type_acute_inpatient"] == 6
    assert encounter["type_emergency_department"] == 22
    assert encounter["type_observation"] == 4
    assert encounter["type_office"] == 217
    # 7 ED claims and 1 observation claim led to an admission and belong to its stay.
    assert con.execute(
        "select source_encounter_type, count(*) from core.encounter_link "
        "where encounter_type = 'acute_inpatient' group by all order by 1"
    ).fetchall() == [
        ("acute_inpatient", 6),
        ("emergency_department", 7),
        ("inpatient_professional", 31),
        ("observation", 1),
    ]
    # Diagnosis types in the sample are dirty ('icd-10-pcs' on diagnosis codes, or empty): all
    # read as ICD-10-CM because every claim is after 2015-10-01.
    assert stats["diagnosis"]["icd10cm_share"] == 1.0
    assert con.execute(
        "select analyte, count(*) from core.lab where analyte is not null group by all order by 1"
    ).fetchall() == [("egfr", 52), ("hba1c", 47), ("ldl", 63), ("uacr", 39)]
    assert stats["vital"]["blood_pressure_readings"] == 180
    assert stats["pharmacy_fill"]["rows"] == 291
