"""Inpatient stays: merging claims, transfers and chains, EHR/claim de-duplication."""

from datetime import date

import duckdb
import pytest

from pipelines.core import build_core
from tests.core_fixtures import make_staging

AS_OF = date(2024, 12, 31)
STAY_TABLES = [
    "medical_claim_adjudication",
    "medical_claim_final",
    "inpatient_stay_claim",
    "inpatient_stay",
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def acute(claim_id, person, facility, admit, discharge, disposition="01", bill="111", **kw):
    row = {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": person,
        "bill_type_code": bill,
        "facility_npi": facility,
        "claim_start_date": admit,
        "claim_end_date": discharge,
        "admission_date": admit,
        "discharge_date": discharge,
        "discharge_disposition_code": disposition,
        "revenue_center_code": "0120",
        "paid_amount": 1000,
        "allowed_amount": 1200,
        "charge_amount": 3000,
    }
    row.update(kw)
    return row


def stays(con, **tables):
    make_staging(con, **tables)
    build_core(con, AS_OF, names=STAY_TABLES)
    cur = con.execute("select * from core.inpatient_stay order by person_id, admission_date")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_contiguous_interim_claims_and_overlapping_claims_of_one_facility_are_one_stay(con):
    result = stays(
        con,
        medical_claim=[
            acute(
                "A1",
                "P1",
                "F1",
                "2024-03-01",
                "2024-03-10",
                "30",
                bill="112",
                admit_type_code="1",
                admit_source_code="7",
                diagnosis_code_1="I214",
                procedure_code_1="02703ZZ",
                drg_code="247",
            ),
            acute(
                "A1",
                "P1",
                "F1",
                "2024-03-01",
                "2024-03-10",
                "30",
                bill="112",
                claim_line_number=2,
                revenue_center_code="0360",
                paid_amount=500,
            ),
            acute(
                "A2",
                "P1",
                "F1",
                "2024-03-11",
                "2024-03-15",
                "03",
                bill="114",
                procedure_code_1="5A1955Z",
                procedure_code_2="02703ZZ",
                drg_code="246",
            ),
            # Same facility, overlapping dates (a split bill): the same stay.
            acute("A3", "P1", "F1", "2024-03-12", "2024-03-14", "03", bill="111"),
        ],
    )
    assert len(result) == 1
    stay = result[0]
    assert stay["stay_id"] == "c:A1"
    assert (stay["admission_date"], stay["discharge_date"]) == (date(2024, 3, 1), date(2024, 3, 15))
    assert stay["length_of_stay"] == 14
    assert stay["claim_count"] == 3
    assert (stay["admit_type_code"], stay["admit_source_code"]) == ("1", "7")
    assert stay["discharge_disposition_code"] == "03"  # the last claim's
    assert stay["principal_diagnosis_code"] == "I214"
    assert stay["principal_procedure_code"] == "02703ZZ"
    assert stay["procedure_codes"] == ["02703ZZ", "5A1955Z"]
    assert stay["drg_code"] == "246"  # the last claim with a DRG
    assert float(stay["paid_amount"]) == 3500.0
    assert stay["transfer_chain_id"] == "c:A1"
    assert (stay["is_transfer_in"], stay["is_transfer_out"]) == (False, False)


def test_a_next_day_admission_after_a_completed_discharge_is_a_new_stay(con):
    result = stays(
        con,
        medical_claim=[
            acute("B1", "P1", "F1", "2024-04-01", "2024-04-05", "01"),
            acute("B2", "P1", "F1", "2024-04-06", "2024-04-08", "01"),
        ],
    )
    assert [(s["stay_id"], s["is_transfer_in"]) for s in result] == [
        ("c:B1", False),
        ("c:B2", False),  # same facility, discharged home: a readmission, not a transfer
    ]


def test_header_dates_fall_back_to_claim_dates(con):
    result = stays(
        con,
        medical_claim=[
            acute(
                "H1",
                "P1",
                "F1",
                "2024-06-01",
                "2024-06-04",
                admission_date=None,
                discharge_date=None,
            ),
        ],
    )
    assert (result[0]["admission_date"], result[0]["discharge_date"]) == (
        date(2024, 6, 1),
        date(2024, 6, 4),
    )


def test_transfer_chain_same_day_to_another_facility_then_next_day_again(con):
    result = stays(
        con,
        medical_claim=[
            acute("T1", "P2", "F1", "2024-05-01", "2024-05-03", "02"),
            acute("T2", "P2", "F2", "2024-05-03", "2024-05-07", "01"),  # same day, other facility
            acute("T3", "P2", "F3", "2024-05-08", "2024-05-10", "01"),  # next day, other facility
            acute("T4", "P2", "F3", "2024-06-20", "2024-06-22", "02"),  # 02 but nobody receives
        ],
    )
    assert [
        (
            s["stay_id"],
            s["is_transfer_in"],
            s["is_transfer_out"],
            s["transfer_chain_id"],
            s["transfer_chain_position"],
        )
        for s in result
    ] == [
        ("c:T1", False, True, "c:T1", 1),
        ("c:T2", True, True, "c:T1", 2),
        ("c:T3", True, False, "c:T1", 3),
        ("c:T4", False, True, "c:T4", 1),
    ]


def test_disposition_02_marks_a_transfer_even_to_the_same_facility(con):
    result = stays(
        con,
        medical_claim=[
            acute("S1", "P3", "F1", "2024-07-01", "2024-07-02", "02"),
            acute("S2", "P3", "F1", "2024-07-03", "2024-07-06", "01"),
        ],
    )
    assert [(s["stay_id"], s["is_transfer_in"], s["transfer_chain_id"]) for s in result] == [
        ("c:S1", False, "c:S1"),
        ("c:S2", True, "c:S1"),
    ]


def test_ehr_stay_overlapping_a_claim_stay_is_the_same_stay_and_claim_wins(con):
    result = stays(
        con,
        medical_claim=[acute("E1", "P4", "F1", "2024-08-01", "2024-08-05", drg_code="291")],
        encounter=[
            {
                "encounter_id": "V1",
                "person_id": "P4",
                "encounter_type": "acute inpatient",
                "encounter_start_date": "2024-08-02",
                "encounter_end_date": "2024-08-05",
                "facility_npi": "F1",
                "drg_code": "999",
            },
            {
                "encounter_id": "V2",
                "person_id": "P4",
                "encounter_type": "acute inpatient",
                "encounter_start_date": "2024-09-10",
                "encounter_end_date": "2024-09-12",
                "facility_npi": "F9",
                "discharge_disposition_code": "01",
                "primary_diagnosis_code": "J189",
            },
            {
                "encounter_id": "V3",
                "person_id": "P4",
                "encounter_type": "office visit",
                "encounter_start_date": "2024-09-20",
            },
        ],
    )
    assert [
        (s["stay_id"], s["source"], s["drg_code"], s["ehr_encounter_id"], s["length_of_stay"])
        for s in result
    ] == [
        ("c:E1", "medical_claim", "291", "V1", 4),
        ("e:V2", "encounter", None, "V2", 2),
    ]
    assert result[1]["principal_diagnosis_code"] == "J189"


def test_only_bill_type_11x_makes_a_stay(con):
    result = stays(
        con,
        medical_claim=[
            acute("N1", "P5", "F1", "2024-01-01", "2024-01-09", bill="211"),
            acute("N2", "P5", "F1", "2024-02-01", "2024-02-01", bill="131"),
            acute("N3", "P5", "F1", "2024-03-01", "2024-03-04", bill="110", paid_amount=0),
        ],
    )
    assert [s["stay_id"] for s in result] == ["c:N3"]


def test_empty_staging_gives_no_stays(con):
    assert stays(con) == []
