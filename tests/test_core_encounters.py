"""Encounter typing and merging: claims and EHR encounters, one row per visit or stay."""

from datetime import date

import duckdb
import pytest

from pipelines.core import build_core
from tests.core_fixtures import make_staging

AS_OF = date(2024, 12, 31)
ENCOUNTER_TABLES = [
    "medical_claim_adjudication",
    "medical_claim_final",
    "inpatient_stay_claim",
    "inpatient_stay",
    "encounter_link",
    "encounter",
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def inst(claim_id, person, bill, day, revenue, line=1, hcpcs=None, end=None, **kw):
    row = {
        "claim_id": claim_id,
        "claim_line_number": line,
        "claim_type": "institutional",
        "person_id": person,
        "bill_type_code": bill,
        "facility_npi": "1000000004",
        "claim_start_date": day,
        "claim_end_date": end or day,
        "revenue_center_code": revenue,
        "hcpcs_code": hcpcs,
        "paid_amount": 100,
        "allowed_amount": 120,
        "charge_amount": 300,
    }
    row.update(kw)
    return row


def prof(claim_id, person, pos, hcpcs, day, line=1, **kw):
    row = {
        "claim_id": claim_id,
        "claim_line_number": line,
        "claim_type": "professional",
        "person_id": person,
        "place_of_service_code": pos,
        "hcpcs_code": hcpcs,
        "rendering_npi": "1000000012",
        "claim_start_date": day,
        "claim_end_date": day,
        "paid_amount": 50,
        "allowed_amount": 60,
        "charge_amount": 90,
    }
    row.update(kw)
    return row


def build(con, **tables):
    make_staging(con, **tables)
    build_core(con, AS_OF, names=ENCOUNTER_TABLES)


def claim_encounters(con):
    return dict(
        con.execute(
            "select source_id, encounter_id || ' ' || encounter_type from core.encounter_link "
            "where source = 'medical_claim'"
        ).fetchall()
    )


def test_ed_visit_that_leads_to_an_admission_belongs_to_the_stay(con):
    build(
        con,
        medical_claim=[
            inst("ED1", "P1", "131", "2024-03-01", "0450", hcpcs="99285"),
            prof("EDP1", "P1", "23", "99285", "2024-03-02"),
            inst(
                "IP1",
                "P1",
                "111",
                "2024-03-02",
                "0120",
                end="2024-03-05",
                admission_date="2024-03-02",
                discharge_date="2024-03-05",
                discharge_disposition_code="01",
                diagnosis_code_1="I214",
            ),
            prof("HOSP1", "P1", "21", "99223", "2024-03-02"),
            prof("HOSP2", "P1", "21", "99238", "2024-03-05"),
            # An ED visit two days before the admission is its own visit.
            inst("ED0", "P1", "131", "2024-02-28", "0450", hcpcs="99283"),
        ],
    )
    assert claim_encounters(con) == {
        "ED1": "c:IP1 acute_inpatient",
        "EDP1": "c:IP1 acute_inpatient",
        "IP1": "c:IP1 acute_inpatient",
        "HOSP1": "c:IP1 acute_inpatient",
        "HOSP2": "c:IP1 acute_inpatient",
        "ED0": "c:ED0 emergency_department",
    }
    stay = con.execute(
        "select start_date, end_date, claim_count, paid_amount, primary_diagnosis_code "
        "from core.encounter where encounter_id = 'c:IP1'"
    ).fetchall()
    # 100 + 100 institutional, 3 x 50 professional
    assert stay == [(date(2024, 3, 2), date(2024, 3, 5), 5, 350, "I214")]


def test_treat_and_release_ed_merges_facility_and_physician_claims(con):
    build(
        con,
        medical_claim=[
            inst(
                "ED2", "P2", "131", "2024-04-10", "0450", hcpcs="99283", diagnosis_code_1="S6290XA"
            ),
            inst("ED2", "P2", "131", "2024-04-10", "0320", line=2, hcpcs="73110"),
            prof("EDP2", "P2", "23", "99283", "2024-04-10"),
        ],
    )
    rows = con.execute(
        "select encounter_id, encounter_type, source, claim_count, facility_npi, provider_npi, "
        "primary_diagnosis_code, primary_diagnosis_code_system from core.encounter"
    ).fetchall()
    assert rows == [
        (
            "c:ED2",
            "emergency_department",
            "medical_claim",
            2,
            "1000000004",
            "1000000012",
            "S6290XA",
            "icd-10-cm",
        ),
    ]


def test_observation_wins_over_ed_and_professional_observation_merges(con):
    build(
        con,
        medical_claim=[
            inst("OB1", "P3", "131", "2024-05-01", "0762", hcpcs="G0378", end="2024-05-02"),
            inst("OB1", "P3", "131", "2024-05-01", "0450", line=2, hcpcs="99284"),
            prof("OBP1", "P3", "22", "99222", "2024-05-01"),
            # 13x with observation revenue only, no ED.
            inst("OB2", "P4", "851", "2024-05-03", "0762"),
        ],
    )
    assert claim_encounters(con) == {
        "OB1": "c:OB1 observation",
        "OBP1": "c:OB1 observation",
        "OB2": "c:OB2 observation",
    }


def test_telehealth_by_place_of_service_or_modifier_and_office_visits(con):
    build(
        con,
        medical_claim=[
            prof("TH1", "P5", "10", "99213", "2024-06-01"),
            prof("TH2", "P5", "11", "99214", "2024-06-08", hcpcs_modifier_1="95"),
            prof("OF1", "P5", "11", "99214", "2024-06-15"),
            prof("OF2", "P5", "11", "G0439", "2024-06-15"),  # same day, same type: one visit
            prof("OF3", "P5", "11", "99396", "2024-07-01"),
            prof("LAB", "P5", "81", "83036", "2024-07-01"),  # a lab is 'other', not the visit
            prof("IPX", "P5", "21", "99232", "2024-07-02"),  # inpatient care without a stay
        ],
    )
    assert claim_encounters(con) == {
        "TH1": "c:TH1 telehealth",
        "TH2": "c:TH2 telehealth",
        "OF1": "c:OF1 office",
        "OF2": "c:OF1 office",
        "OF3": "c:OF3 office",
        "LAB": "c:LAB other",
        "IPX": "c:IPX other",
    }
    assert con.execute(
        "select count(*) from core.encounter where encounter_type = 'office'"
    ).fetchall() == [(2,)]


def test_post_acute_bill_types(con):
    build(
        con,
        medical_claim=[
            inst("SNF", "P6", "211", "2024-01-01", "0022", end="2024-01-31"),
            inst("HH", "P6", "329", "2024-02-01", "0023", end="2024-02-29"),
            inst("HOS", "P6", "811", "2024-03-01", "0651", end="2024-03-31"),
            inst("OUT", "P6", "131", "2024-04-01", "0300", hcpcs="80053"),
        ],
    )
    assert claim_encounters(con) == {
        "SNF": "c:SNF snf",
        "HH": "c:HH home_health",
        "HOS": "c:HOS hospice",
        "OUT": "c:OUT other",
    }


def test_ehr_encounters_typed_merged_with_claims_or_kept(con):
    build(
        con,
        medical_claim=[prof("OF1", "P7", "11", "99213", "2024-06-15")],
        encounter=[
            {
                "encounter_id": "V1",
                "person_id": "P7",
                "encounter_type": "office visit",
                "encounter_start_date": "2024-06-15",
            },
            {
                "encounter_id": "V2",
                "person_id": "P7",
                "encounter_type": "telehealth",
                "encounter_start_date": "2024-06-20",
            },
            {
                "encounter_id": "V3",
                "person_id": "P7",
                "encounter_type": "emergency department",
                "encounter_start_date": "2024-07-01",
            },
            {
                "encounter_id": "V4",
                "person_id": "P7",
                "encounter_type": "acute inpatient",
                "encounter_start_date": "2024-07-02",
                "encounter_end_date": "2024-07-04",
            },
            {
                "encounter_id": "V5",
                "person_id": "P7",
                "encounter_type": "home health",
                "encounter_start_date": "2024-08-01",
            },
            {
                "encounter_id": "V6",
                "person_id": "P7",
                "encounter_type": "urgent care",
                "encounter_start_date": "2024-08-05",
            },
        ],
    )
    rows = con.execute(
        "select encounter_id, encounter_type, source, ehr_encounter_id from core.encounter "
        "order by start_date"
    ).fetchall()
    assert rows == [
        ("c:OF1", "office", "medical_claim", "V1"),
        ("e:V2", "telehealth", "encounter", "V2"),
        ("e:V4", "acute_inpatient", "encounter", "V4"),  # the ED visit V3 belongs to it
        ("e:V5", "home_health", "encounter", "V5"),
        ("e:V6", "other", "encounter", "V6"),
    ]
    assert con.execute(
        "select encounter_id from core.encounter_link where source_id = 'V3'"
    ).fetchall() == [("e:V4",)]


def test_empty_staging_gives_no_encounters(con):
    build(con)
    assert con.execute("select count(*) from core.encounter").fetchall() == [(0,)]
    assert con.execute("select count(*) from core.encounter_link").fetchall() == [(0,)]
