"""Readmissions rules on small hand-built extracts, run through staging -> core -> marts.

Every rule of docs/measures/readmissions.md has a test here: window boundaries (day 0, 1, 30, 31),
transfers, same-day merges, death, AMA, diagnosis exclusions, follow-up and enrolment, planned
versus unplanned readmissions, the first-readmission-only rule, rate groupings, the PCR-style
table, the Dagster assets and the SQL's portability.
"""

import re
from datetime import date

import duckdb
import pytest
from dagster import AssetKey, materialize
from dagster_duckdb import DuckDBResource

from pipelines.assets.readmissions import readmission_assets
from pipelines.core import build_core
from pipelines.readmissions import (
    EXCLUSION_REASONS,
    INDEX_STAY_SQL,
    PCR_SQL,
    RATES_SQL,
    build_readmissions,
)
from pipelines.settings import PopcareSettings
from pipelines.sql import read_sql
from tests.core_fixtures import make_staging

AS_OF = date(2024, 12, 31)
PERIOD = (date(2024, 1, 1), date(2024, 12, 31))


# ---------------------------------------------------------------------------------------------
# Fixture builders: rows in the input contract, as an extract would carry them.


def member(person, start="2023-01-01", end="2025-12-31", payer_type="medicare", **kw):
    row = {
        "person_id": person,
        "enrollment_start_date": start,
        "enrollment_end_date": end,
        "payer_type": payer_type,
        "payer": payer_type,
        "gender": "female",
        "birth_date": "1950-06-15",
    }
    row.update(kw)
    return row


def stay(claim_id, person, admit, discharge, disposition="01", facility="F1", dx="J189", pcs=()):
    """One acute inpatient claim (bill type 111): principal diagnosis and ICD-10-PCS codes."""
    row = {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": person,
        "bill_type_code": "111",
        "facility_npi": facility,
        "claim_start_date": admit,
        "claim_end_date": discharge,
        "admission_date": admit,
        "discharge_date": discharge,
        "discharge_disposition_code": disposition,
        "revenue_center_code": "0120",
        "diagnosis_code_type": "icd-10-cm",
        "diagnosis_code_1": dx,
        "paid_amount": 1000,
        "allowed_amount": 1200,
        "charge_amount": 3000,
    }
    if pcs:
        row["procedure_code_type"] = "icd-10-pcs"
    for position, code in enumerate(pcs, start=1):
        row[f"procedure_code_{position}"] = code
        row[f"procedure_date_{position}"] = admit
    return row


def observation(claim_id, person, day, facility="F1", dx="R079"):
    """An outpatient observation stay: bill type 131 with revenue code 0762."""
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": person,
        "bill_type_code": "131",
        "facility_npi": facility,
        "claim_start_date": day,
        "claim_end_date": day,
        "discharge_disposition_code": "01",
        "revenue_center_code": "0762",
        "hcpcs_code": "G0378",
        "diagnosis_code_type": "icd-10-cm",
        "diagnosis_code_1": dx,
        "paid_amount": 800,
        "allowed_amount": 900,
        "charge_amount": 2000,
    }


def hospice(claim_id, person, start, end):
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": person,
        "bill_type_code": "811",
        "facility_npi": "H1",
        "claim_start_date": start,
        "claim_end_date": end,
        "revenue_center_code": "0651",
        "diagnosis_code_type": "icd-10-cm",
        "diagnosis_code_1": "C3490",
        "paid_amount": 500,
        "allowed_amount": 600,
        "charge_amount": 900,
    }


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def run(con, *, members=(), claims=(), encounters=(), patients=(), as_of=AS_OF, period=PERIOD):
    make_staging(
        con,
        eligibility=list(members),
        medical_claim=list(claims),
        encounter=list(encounters),
        patient=list(patients),
    )
    build_core(con, as_of)
    return build_readmissions(con, as_of, *period)


def rows(con, table):
    cur = con.execute(f"select * from marts.{table}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def by_stay(con):
    return {r["stay_id"]: r for r in rows(con, "readmission_index_stays")}


def stay_facts(con):
    return {r["stay_id"]: r for r in rows(con, "readmission__stay")}


# ---------------------------------------------------------------------------------------------
# The 30-day window


def test_a_readmission_on_day_30_counts_and_one_on_day_31_does_not(con):
    run(
        con,
        members=[member("P1"), member("P2")],
        claims=[
            stay("A1", "P1", "2024-03-01", "2024-03-05", facility="F1"),
            stay("B1", "P1", "2024-04-04", "2024-04-06", facility="F2"),  # day 30, any facility
            stay("A2", "P2", "2024-03-01", "2024-03-05"),
            stay("B2", "P2", "2024-04-05", "2024-04-06"),  # day 31
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["is_index"] and got["c:A1"]["readmitted_30d"]
    assert got["c:A1"]["readmission_stay_id"] == "c:B1"
    assert got["c:A1"]["days_to_readmission"] == 30
    assert got["c:A1"]["readmission_planned"] is False
    assert got["c:A2"]["is_index"] and got["c:A2"]["readmitted_30d"] is False
    assert got["c:A2"]["readmission_stay_id"] is None
    assert got["c:A2"]["days_to_readmission"] is None
    # The readmission stays are index stays of their own, with nothing after them.
    assert got["c:B1"]["is_index"] and got["c:B1"]["readmitted_30d"] is False
    assert got["c:B2"]["is_index"] and got["c:B2"]["readmitted_30d"] is False


def test_same_day_readmission_same_facility_same_condition_is_merged(con):
    run(
        con,
        members=[member(p) for p in ("P1", "P2", "P3", "P4")],
        claims=[
            # Same facility, same day, same condition (J181 and J189 are both CCS 122): one admission.
            stay("A1", "P1", "2024-03-01", "2024-03-05", dx="J189"),
            stay("B1", "P1", "2024-03-05", "2024-03-08", dx="J181"),
            # Same facility, same day, another condition (AMI): a day-0 readmission.
            stay("A2", "P2", "2024-03-01", "2024-03-05", dx="J189"),
            stay("B2", "P2", "2024-03-05", "2024-03-08", dx="I214"),
            # Same facility, next day, same condition: not merged (the rule is same-day only).
            stay("A3", "P3", "2024-03-01", "2024-03-05", dx="J189"),
            stay("B3", "P3", "2024-03-06", "2024-03-08", dx="J189"),
            # Another facility, next day: a transfer (CMS), so the later stay is the index.
            stay("A4", "P4", "2024-03-01", "2024-03-05", facility="F1"),
            stay("B4", "P4", "2024-03-06", "2024-03-08", facility="F2"),
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["exclusion_reason"] == "same_day_same_condition_readmission"
    assert got["c:A1"]["readmitted_30d"] is None
    assert got["c:B1"]["is_index"] and got["c:B1"]["readmitted_30d"] is False
    assert got["c:A2"]["readmitted_30d"] and got["c:A2"]["days_to_readmission"] == 0
    assert got["c:A3"]["readmitted_30d"] and got["c:A3"]["days_to_readmission"] == 1
    assert got["c:A4"]["exclusion_reason"] == "transfer_out"
    assert got["c:B4"]["is_index"]


# ---------------------------------------------------------------------------------------------
# Index-stay rules


def test_a_transfer_chain_is_one_admission_and_its_last_stay_is_the_index(con):
    run(
        con,
        members=[member("P1"), member("P2")],
        claims=[
            stay("A1", "P1", "2024-03-01", "2024-03-05", "02", facility="F1"),
            stay("B1", "P1", "2024-03-05", "2024-03-09", "01", facility="F2"),
            stay("C1", "P1", "2024-03-20", "2024-03-22", "01", facility="F1"),
            # Discharged to another acute hospital that is not in the extract.
            stay("A2", "P2", "2024-03-01", "2024-03-05", "02"),
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["exclusion_reason"] == "transfer_out"
    assert not got["c:A1"]["is_index"]
    # The transfer is not a readmission; the chain's last stay is followed 11 days later by C1.
    assert got["c:B1"]["is_index"] and got["c:B1"]["readmission_stay_id"] == "c:C1"
    assert got["c:B1"]["days_to_readmission"] == 11
    assert got["c:A2"]["exclusion_reason"] == "transfer_out"


def test_a_readmission_that_is_transferred_counts_once_from_its_first_stay(con):
    run(
        con,
        members=[member("P1")],
        claims=[
            stay("A1", "P1", "2024-03-01", "2024-03-05"),
            stay("B1", "P1", "2024-03-15", "2024-03-18", "02", facility="F1"),
            stay("C1", "P1", "2024-03-18", "2024-03-25", "01", facility="F2"),
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["readmission_stay_id"] == "c:B1"
    assert got["c:A1"]["days_to_readmission"] == 10
    assert got["c:B1"]["exclusion_reason"] == "transfer_out"
    assert got["c:C1"]["is_index"]


def test_death_in_hospital_and_against_medical_advice_are_not_index_stays(con):
    run(
        con,
        members=[
            member("P1"),
            member("P2", end="2024-03-20", death_date="2024-03-20"),
            member("P3"),
        ],
        claims=[
            stay("A1", "P1", "2024-03-01", "2024-03-05", "20"),
            # Died at home 15 days after discharge: death is not a readmission.
            stay("A2", "P2", "2024-03-01", "2024-03-05", "01"),
            # An AMA discharge is not an index, but it is a readmission of the stay before it.
            stay("X3", "P3", "2024-02-01", "2024-02-03", "01"),
            stay("A3", "P3", "2024-02-10", "2024-02-12", "07"),
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["exclusion_reason"] == "died_in_hospital"
    # Coverage ends at death: the follow-up window was observed to its end, so A2 is an index.
    assert got["c:A2"]["is_index"] and got["c:A2"]["readmitted_30d"] is False
    assert got["c:A3"]["exclusion_reason"] == "against_medical_advice"
    assert got["c:X3"]["readmitted_30d"] and got["c:X3"]["readmission_stay_id"] == "c:A3"


def test_an_ehr_only_person_is_not_excluded_for_enrolment(con):
    patients = [{"person_id": "E1", "birth_date": "1948-01-01", "sex": "male"}]
    encounters = [
        {
            "encounter_id": "ENC1",
            "person_id": "E1",
            "encounter_type": "inpatient",
            "encounter_start_date": "2024-03-01",
            "encounter_end_date": "2024-03-05",
            "discharge_disposition_code": "01",
            "facility_npi": "F1",
            "primary_diagnosis_code_type": "icd-10-cm",
            "primary_diagnosis_code": "I214",
        }
    ]
    run(con, patients=patients, encounters=encounters)
    got = by_stay(con)
    # EHR-only person: no eligibility, so the enrolment rule does not apply.
    assert got["e:ENC1"]["is_index"] and got["e:ENC1"]["readmitted_30d"] is False
    facts = stay_facts(con)["e:ENC1"]
    assert facts["has_eligibility"] is False and facts["payer_type"] == "unknown"


def test_cancer_medical_treatment_rehabilitation_and_psychiatric_stays_are_excluded(con):
    run(
        con,
        members=[member(p) for p in ("P1", "P2", "P3", "P4", "P5", "P6")],
        claims=[
            stay("A1", "P1", "2024-03-01", "2024-03-05", dx="C3490"),
            # Cancer surgery (lobectomy, Surgery/Gynecology cohort) is not medical treatment.
            stay("A2", "P2", "2024-03-01", "2024-03-05", dx="C3490", pcs=("0BTC0ZZ",)),
            stay("A3", "P3", "2024-03-01", "2024-03-05", dx="Z5111", pcs=("3E04305",)),
            stay("A4", "P4", "2024-03-01", "2024-03-05", dx="Z5189"),
            stay("A5", "P5", "2024-03-01", "2024-03-05", dx="F332"),
            # Dementia (CCS 653) is a medicine-cohort diagnosis, not a psychiatric exclusion.
            stay("A6", "P6", "2024-03-01", "2024-03-05", dx="F0391"),
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["exclusion_reason"] == "cancer_medical_treatment"
    assert got["c:A2"]["is_index"]
    assert got["c:A3"]["exclusion_reason"] == "cancer_medical_treatment"  # CCS 45, chemotherapy
    assert got["c:A4"]["exclusion_reason"] == "rehabilitation"
    assert got["c:A5"]["exclusion_reason"] == "psychiatric"
    assert got["c:A6"]["is_index"]


def test_thirty_days_of_follow_up_before_the_as_of_date(con):
    run(
        con,
        members=[member("P1"), member("P2")],
        claims=[
            stay("A1", "P1", "2024-11-28", "2024-12-01"),  # discharge + 30 = as-of: enough
            stay("A2", "P2", "2024-11-28", "2024-12-02"),  # one day short
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["is_index"]
    assert got["c:A2"]["exclusion_reason"] == "follow_up_under_30_days"


def test_enrolment_must_cover_discharge_through_day_30_where_eligibility_is_known(con):
    run(
        con,
        members=[
            member("P1", end="2024-06-08"),  # discharge + 29
            member("P2", end="2024-06-09"),  # discharge + 30
            # Commercial to Medicare without a gap: continuous coverage across payer types.
            member("P3", end="2024-05-31", payer_type="commercial"),
            member("P3", start="2024-06-01", end="2025-12-31", payer_type="medicare"),
            # Coverage that starts after the discharge.
            member("P4", start="2024-05-11"),
        ],
        claims=[
            stay("A1", "P1", "2024-05-06", "2024-05-10"),
            stay("A2", "P2", "2024-05-06", "2024-05-10"),
            stay("A3", "P3", "2024-05-06", "2024-05-10"),
            stay("A4", "P4", "2024-05-06", "2024-05-10"),
        ],
    )
    got = by_stay(con)
    assert got["c:A1"]["exclusion_reason"] == "not_enrolled_through_follow_up"
    assert got["c:A2"]["is_index"]
    assert got["c:A3"]["is_index"]
    assert stay_facts(con)["c:A3"]["payer_type"] == "commercial"  # payer at discharge
    assert got["c:A4"]["exclusion_reason"] == "not_enrolled_through_follow_up"


def test_the_first_reason_that_applies_is_recorded(con):
    run(
        con,
        members=[member("P1", end="2024-03-10")],
        claims=[
            # Psychiatric, AMA and short enrolment at once: AMA comes first in the rule order.
            stay("A1", "P1", "2024-03-01", "2024-03-05", "07", dx="F209"),
        ],
    )
    assert by_stay(con)["c:A1"]["exclusion_reason"] == "against_medical_advice"
    assert len(EXCLUSION_REASONS) == len(set(EXCLUSION_REASONS))


# ---------------------------------------------------------------------------------------------
# Planned readmissions (CMS Planned Readmission Algorithm v4.0)


def test_planned_and_unplanned_first_readmissions(con):
    members = [member(f"P{i}") for i in range(1, 8)]
    index = [stay(f"X{i}", f"P{i}", "2024-03-01", "2024-03-05") for i in range(1, 8)]
    readmissions = [
        # Always planned procedure: kidney transplant (CCS 105).
        stay("R1", "P1", "2024-03-15", "2024-03-20", dx="N186", pcs=("0TY00Z0",)),
        # Always planned diagnosis: rehabilitation (CCS 254).
        stay("R2", "P2", "2024-03-10", "2024-03-20", dx="Z5189"),
        # Potentially planned procedure (knee arthroplasty, CCS 152), non-acute diagnosis: planned.
        stay("R3", "P3", "2024-03-20", "2024-03-22", dx="M1711", pcs=("0SRD0JZ",)),
        # PCI (CCS 45) for an acute myocardial infarction (acute CCS 100): unplanned.
        stay("R4", "P4", "2024-03-20", "2024-03-22", dx="I214", pcs=("02703DZ",)),
        # PCI with acute-on-chronic heart failure (acute ICD-10-CM code, CCS 108): unplanned.
        stay("R5", "P5", "2024-03-20", "2024-03-22", dx="I5023", pcs=("02703DZ",)),
        # PCI with chronic heart failure (CCS 108 is not acute): planned.
        stay("R6", "P6", "2024-03-20", "2024-03-22", dx="I5022", pcs=("02703DZ",)),
        # No procedures, acute diagnosis: unplanned.
        stay("R7", "P7", "2024-03-20", "2024-03-22", dx="A419"),
    ]
    run(con, members=members, claims=index + readmissions)
    got = by_stay(con)
    expected = {1: True, 2: True, 3: True, 4: False, 5: False, 6: True, 7: False}
    for i, planned in expected.items():
        row = got[f"c:X{i}"]
        assert row["readmission_stay_id"] == f"c:R{i}", i
        assert row["readmission_planned"] is planned, i
        assert row["readmitted_30d"] is (not planned), i
    reasons = {k: v["planned_reason"] for k, v in stay_facts(con).items() if k.startswith("c:R")}
    assert reasons == {
        "c:R1": "always_planned_procedure",
        "c:R2": "always_planned_diagnosis",
        "c:R3": "potentially_planned_procedure",
        "c:R4": None,
        "c:R5": None,
        "c:R6": "potentially_planned_procedure",
        "c:R7": None,
    }


def test_only_the_first_readmission_counts(con):
    run(
        con,
        members=[member("P1")],
        claims=[
            stay("X1", "P1", "2024-03-01", "2024-03-05"),
            # Planned chemotherapy cycle first, then an unplanned pneumonia admission.
            stay("R1", "P1", "2024-03-15", "2024-03-16", dx="Z5111", pcs=("3E04305",)),
            stay("R2", "P1", "2024-03-25", "2024-03-29", dx="J189"),
        ],
    )
    got = by_stay(con)
    assert got["c:X1"]["readmission_stay_id"] == "c:R1"
    assert got["c:X1"]["readmission_planned"] is True
    assert got["c:X1"]["readmitted_30d"] is False
    # R2 is not the readmission of X1; the chemotherapy stay is not an index (cancer treatment).
    assert got["c:R1"]["exclusion_reason"] == "cancer_medical_treatment"
    assert got["c:R2"]["is_index"]


def test_a_readmission_can_itself_be_an_index_stay(con):
    run(
        con,
        members=[member("P1")],
        claims=[
            stay("A1", "P1", "2024-03-01", "2024-03-05"),
            stay("B1", "P1", "2024-03-15", "2024-03-18", dx="I5023"),
            stay("C1", "P1", "2024-03-28", "2024-04-02", dx="N179"),
        ],
    )
    got = by_stay(con)
    assert (got["c:A1"]["readmission_stay_id"], got["c:A1"]["readmitted_30d"]) == ("c:B1", True)
    assert (got["c:B1"]["readmission_stay_id"], got["c:B1"]["readmitted_30d"]) == ("c:C1", True)
    assert got["c:C1"]["is_index"] and got["c:C1"]["readmitted_30d"] is False


# ---------------------------------------------------------------------------------------------
# Rates


def test_rates_by_grouping_payer_and_age_band_at_discharge(con):
    run(
        con,
        members=[
            member("P1", birth_date="1959-03-05"),
            member("P2", birth_date="1959-03-05"),
            member("P3", payer_type="commercial", birth_date="1990-01-01"),
        ],
        claims=[
            # P1 is 64 on the first discharge day (birthday the next day), 65 afterwards.
            stay("A1", "P1", "2024-03-01", "2024-03-04", facility="F1"),
            stay("B1", "P1", "2024-05-01", "2024-05-03", facility="F1"),
            stay("C1", "P1", "2024-05-10", "2024-05-12", facility="F2"),
            # P2 turns 65 on the discharge day.
            stay("A2", "P2", "2024-03-01", "2024-03-05", facility="F2"),
            stay("A3", "P3", "2024-03-01", "2024-03-05", facility="F1"),
        ],
    )
    facts = stay_facts(con)
    assert facts["c:A1"]["age_at_discharge"] == 64 and facts["c:A1"]["age_band"] == "45-64"
    assert facts["c:A2"]["age_at_discharge"] == 65 and facts["c:A2"]["age_band"] == "65-74"
    rates = {(r["grouping"], r["group_value"]): r for r in rows(con, "readmission_rates")}
    overall = rates[("overall", "all")]
    assert (overall["index_stays"], overall["readmissions"]) == (5, 1)
    assert overall["rate"] == pytest.approx(0.2)
    assert {k[0] for k in rates} == {"overall", "discharge_month", "facility", "payer", "age_band"}
    assert rates[("payer", "medicare")]["index_stays"] == 4
    assert rates[("payer", "commercial")]["rate"] == 0.0
    assert rates[("discharge_month", "2024-05")]["index_stays"] == 2
    assert rates[("discharge_month", "2024-05")]["readmissions"] == 1
    assert rates[("facility", "F1")]["index_stays"] == 3
    assert rates[("age_band", "18-44")]["index_stays"] == 1
    assert rates[("age_band", "45-64")]["index_stays"] == 1
    # B1 (discharged after P1's 65th birthday) is the readmitted one.
    older = rates[("age_band", "65-74")]
    assert (older["index_stays"], older["readmissions"]) == (3, 1)


# ---------------------------------------------------------------------------------------------
# HEDIS PCR-style rate


def pcr(con):
    return {r["age_group"]: r for r in rows(con, "readmission_pcr")}


def test_pcr_counts_observation_stays_as_index_stays_and_readmissions(con):
    run(
        con,
        members=[member("P1"), member("P2")],
        claims=[
            # Acute stay, then an observation stay 10 days later: a PCR readmission, not an HWR one.
            stay("A1", "P1", "2024-03-01", "2024-03-05"),
            observation("O1", "P1", "2024-03-15"),
            # Observation stay as the index, acute readmission 20 days later.
            observation("O2", "P2", "2024-06-01"),
            stay("A2", "P2", "2024-06-21", "2024-06-24"),
        ],
        as_of=date(2025, 1, 31),
    )
    assert by_stay(con)["c:A1"]["readmitted_30d"] is False
    result = pcr(con)["65+"]
    # Index stays: A1, O1, O2, A2; readmitted: A1 (by O1), O2 (by A2).
    assert (result["index_stays"], result["readmissions"]) == (4, 2)
    assert result["observed_rate"] == pytest.approx(0.5)
    assert pcr(con)["18-64"]["index_stays"] == 0
    assert pcr(con)["18-64"]["observed_rate"] is None


def test_pcr_index_discharges_run_from_january_1_to_december_1(con):
    run(
        con,
        members=[member(f"P{i}") for i in range(1, 4)],
        claims=[
            stay("A1", "P1", "2023-12-28", "2023-12-31"),  # before the period
            stay("A2", "P2", "2024-11-28", "2024-12-01"),  # last day counted
            stay("A3", "P3", "2024-11-28", "2024-12-02"),  # after Dec 1
        ],
        as_of=date(2025, 3, 31),
    )
    assert pcr(con)["65+"]["index_stays"] == 1


def test_pcr_drops_planned_readmissions_and_counts_a_later_unplanned_one(con):
    run(
        con,
        members=[member("P1")],
        claims=[
            stay("X1", "P1", "2024-03-01", "2024-03-05"),
            stay("R1", "P1", "2024-03-15", "2024-03-16", dx="Z5111", pcs=("3E04305",)),
            stay("R2", "P1", "2024-03-25", "2024-03-29", dx="J189"),
        ],
    )
    # HWR: the first readmission is planned, so X1 is not readmitted.
    assert by_stay(con)["c:X1"]["readmitted_30d"] is False
    # PCR: X1 is readmitted by R2; R1 (readmitted by R2, 9 days) is an index too; R2 is not.
    result = pcr(con)["65+"]
    assert (result["index_stays"], result["readmissions"]) == (3, 2)


def test_pcr_age_groups_and_index_exclusions(con):
    run(
        con,
        members=[
            member("P1", birth_date="1980-01-01", payer_type="commercial"),
            member("P2", birth_date="2010-01-01", payer_type="medicaid"),  # under 18
            member("P3"),
            member("P4"),
            member("P5", birth_date="1990-01-01", payer_type="medicaid"),
            # A gap of 60 days in the year before discharge: not continuously enrolled.
            member("P6", start="2023-01-01", end="2023-10-31"),
            member("P6", start="2024-01-01", end="2025-12-31"),
        ],
        claims=[
            stay("A1", "P1", "2024-03-01", "2024-03-05"),
            stay("A2", "P2", "2024-03-01", "2024-03-05"),
            stay("A3", "P3", "2024-03-01", "2024-03-05", "20"),
            stay("A4", "P4", "2024-03-01", "2024-03-05"),
            hospice("H4", "P4", "2024-09-01", "2024-09-20"),
            stay("A5", "P5", "2024-03-01", "2024-03-05", dx="O80"),
            stay("A6", "P6", "2024-03-01", "2024-03-05"),
        ],
    )
    result = pcr(con)
    assert result["18-64"]["index_stays"] == 1  # A1 (A5: pregnancy)
    assert result["65+"]["index_stays"] == 0  # A3 died, A4 hospice, A6 enrolment gap
    facts = stay_facts(con)
    assert facts["c:A5"]["pcr_exclusion_reason"] == "pregnancy"
    assert facts["c:A6"]["enrolled_through_follow_up"] and not facts["c:A6"]["enrolled_pcr"]


# ---------------------------------------------------------------------------------------------
# Dagster assets and the SQL files


def test_materialize_readmission_assets_records_counts_and_rates_only(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    make_staging(
        con,
        eligibility=[member("P1"), member("P2", payer_type="commercial", birth_date="1980-01-01")],
        medical_claim=[
            stay("A1", "P1", "2024-03-01", "2024-03-05"),
            stay("B1", "P1", "2024-03-12", "2024-03-15"),
            stay("A2", "P2", "2024-03-01", "2024-03-05", "07"),
        ],
    )
    build_core(con, AS_OF)
    con.close()
    result = materialize(
        readmission_assets,
        resources={
            "settings": PopcareSettings(
                input_dir=str(tmp_path), out_dir=str(tmp_path / "out"), as_of="2024-12-31"
            ),
            "duckdb": DuckDBResource(database=str(warehouse)),
        },
    )
    assert result.success
    metadata = {
        m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items()}
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    index = metadata["readmission_index_stays"]
    assert (index["index_stays"], index["readmissions"], index["overall_rate"]) == (2, 1, 0.5)
    assert index["excluded_against_medical_advice"] == 1
    assert index["medicare_rate"] == 0.5 and index["planned_share"] == 0.0
    assert metadata["readmission_rates"]["medicare_rate"] == 0.5
    assert metadata["readmission_pcr"]["index_stays_65_plus"] == 2
    for values in metadata.values():
        for key, value in values.items():
            assert isinstance(value, int | float) or key in ("as_of", "measurement_period"), key


def test_assets_keys_groups_and_deps():
    by_key = {a.key: a for a in readmission_assets}
    assert set(by_key) == {
        AssetKey(["marts", "readmission_index_stays"]),
        AssetKey(["marts", "readmission_rates"]),
        AssetKey(["marts", "readmission_pcr"]),
    }
    for key, asset in by_key.items():
        assert asset.group_names_by_key[key] == "marts"
        assert asset.descriptions_by_key[key]
    index = by_key[AssetKey(["marts", "readmission_index_stays"])]
    deps = {d.asset_key for d in index.specs_by_key[index.key].deps}
    # Every core table the index-stay SQL files read is a declared dependency.
    core_read = set()
    for name in INDEX_STAY_SQL:
        core_read |= set(re.findall(r"\bcore\.([a-z_]+)\b", _sql_without_comments(name)))
    assert {AssetKey(["core", n]) for n in core_read} == deps


def _sql_without_comments(name):
    return "\n".join(
        line for line in read_sql(name).splitlines() if not line.lstrip().startswith("--")
    )


def test_each_sql_file_builds_one_table_and_carries_to_spark_and_trino():
    sqlglot = pytest.importorskip("sqlglot")
    for name in (*INDEX_STAY_SQL, *RATES_SQL, *PCR_SQL):
        sql = _sql_without_comments(name)
        table = name.split("/")[-1]
        assert sql.count("create or replace table") == 1, name
        assert f"create or replace table marts.{table} as" in sql, name
        assert read_sql(name).startswith(f"-- marts.{table} <-"), name
        for dialect in ("spark", "trino"):
            sqlglot.transpile(
                read_sql(name),
                read="duckdb",
                write=dialect,
                unsupported_level=sqlglot.ErrorLevel.RAISE,
            )
