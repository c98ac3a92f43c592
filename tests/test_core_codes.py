"""Long-format diagnoses and procedures: positions, code systems, dates, EHR rows."""

from datetime import date

import duckdb
import pytest

from pipelines.core import build_core
from tests.core_fixtures import make_staging

AS_OF = date(2024, 12, 31)
CODE_TABLES = [
    "medical_claim_adjudication",
    "medical_claim_final",
    "inpatient_stay_claim",
    "inpatient_stay",
    "encounter_link",
    "diagnosis",
    "procedure",
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def claim(claim_id, line=1, **kw):
    row = {
        "claim_id": claim_id,
        "claim_line_number": line,
        "claim_type": "professional",
        "person_id": "P1",
        "claim_start_date": "2024-02-01",
        "claim_end_date": "2024-02-01",
        "place_of_service_code": "11",
    }
    row.update(kw)
    return row


def test_claim_diagnoses_long_format_positions_and_code_systems(con):
    make_staging(
        con,
        medical_claim=[
            claim(
                "C1",
                1,
                hcpcs_code="99214",
                diagnosis_code_1="E1165",
                diagnosis_code_2="I10",
                diagnosis_code_3="N183",
                diagnosis_code_5="Z794",
                diagnosis_poa_1="Y",
            ),
            # The second line repeats the header codes: kept once per position.
            claim(
                "C1",
                2,
                hcpcs_code="83036",
                diagnosis_code_1="E1165",
                diagnosis_code_2="I10",
                diagnosis_code_3="N183",
                diagnosis_code_5="Z794",
                diagnosis_poa_1="Y",
            ),
            # Declared as a procedure system (as in the Tuva sample): read as ICD-10-CM.
            claim("C2", diagnosis_code_type="icd-10-pcs", diagnosis_code_1="J449"),
            # Before the ICD-10 compliance date, undeclared: ICD-9-CM.
            claim("C3", claim_start_date="2015-09-30", diagnosis_code_1="25000"),
            claim("C4", diagnosis_code_type="icd-9-cm", diagnosis_code_1="4019"),
        ],
        condition=[
            {
                "condition_id": "K1",
                "person_id": "P1",
                "source_code_type": "snomed-ct",
                "source_code": "44054006",
                "normalized_code_type": "icd-10-cm",
                "normalized_code": "E119",
                "recorded_date": "2023-05-01",
                "onset_date": "2020-01-01",
            },
            {
                "condition_id": "K2",
                "person_id": "P1",
                "source_code_type": "icd-10-cm",
                "source_code": "I10",
                "onset_date": "2019-03-01",
                "condition_rank": 1,
            },
            {
                "condition_id": "K3",
                "person_id": "P1",
                "source_code_type": "icd-10-cm",
                "source_code": "C509",
                "status": "entered-in-error",
            },
        ],
    )
    build_core(con, AS_OF, names=CODE_TABLES)
    rows = con.execute(
        "select source, source_id, code_system, code, position, poa, service_date, encounter_id "
        "from core.diagnosis order by source, source_id, position, code_system"
    ).fetchall()
    feb = date(2024, 2, 1)
    assert rows == [
        ("condition", "K1", "icd-10-cm", "E119", None, None, date(2023, 5, 1), None),
        ("condition", "K1", "snomed-ct", "44054006", None, None, date(2023, 5, 1), None),
        ("condition", "K2", "icd-10-cm", "I10", 1, None, date(2019, 3, 1), None),
        ("medical_claim", "C1", "icd-10-cm", "E1165", 1, "Y", feb, "c:C1"),
        ("medical_claim", "C1", "icd-10-cm", "I10", 2, None, feb, "c:C1"),
        ("medical_claim", "C1", "icd-10-cm", "N183", 3, None, feb, "c:C1"),
        ("medical_claim", "C1", "icd-10-cm", "Z794", 5, None, feb, "c:C1"),
        # C2 and C4 carry no visit code: one 'other' encounter that day, apart from the visit.
        ("medical_claim", "C2", "icd-10-cm", "J449", 1, None, feb, "c:C2"),
        ("medical_claim", "C3", "icd-9-cm", "25000", 1, None, date(2015, 9, 30), "c:C3"),
        ("medical_claim", "C4", "icd-9-cm", "4019", 1, None, feb, "c:C2"),
    ]


def test_procedures_from_icd_columns_claim_lines_and_the_ehr(con):
    make_staging(
        con,
        medical_claim=[
            claim(
                "IP",
                claim_type="institutional",
                bill_type_code="111",
                claim_start_date="2024-03-01",
                claim_end_date="2024-03-04",
                procedure_code_type="icd-10-pcs",
                procedure_code_1="0SRD0JZ",
                procedure_date_1="2024-03-02",
                procedure_code_2="5A1955Z",
                revenue_center_code="0360",
                place_of_service_code=None,
            ),
            claim("OV", 1, hcpcs_code="99213", hcpcs_modifier_1="25", service_unit_quantity=1),
            claim("OV", 2, hcpcs_code="G0439", claim_line_start_date="2024-02-02"),
            claim("OV", 3, hcpcs_code="3074F"),
        ],
        procedure=[
            {
                "procedure_id": "X1",
                "person_id": "P1",
                "procedure_date": "2023-04-01",
                "source_code_type": "snomed-ct",
                "source_code": "73761001",
                "encounter_id": "V9",
            },
            {
                "procedure_id": "X2",
                "person_id": "P1",
                "procedure_date": "2022-04-01",
                "source_code_type": "hcpcs",
                "source_code": "77067",
                "modifier_1": "26",
            },
        ],
    )
    build_core(con, AS_OF, names=CODE_TABLES)
    rows = con.execute(
        "select source_id, claim_line_number, code_system, code, position, modifier_1, "
        "place_of_service_code, procedure_date from core.procedure "
        "order by source, source_id, claim_line_number nulls first, position"
    ).fetchall()
    assert rows == [
        ("IP", None, "icd-10-pcs", "0SRD0JZ", 1, None, None, date(2024, 3, 2)),
        ("IP", None, "icd-10-pcs", "5A1955Z", 2, None, None, date(2024, 3, 1)),
        ("OV", 1, "cpt", "99213", None, "25", "11", date(2024, 2, 1)),
        ("OV", 2, "hcpcs", "G0439", None, None, "11", date(2024, 2, 2)),
        ("OV", 3, "cpt", "3074F", None, None, "11", date(2024, 2, 1)),
        ("X1", None, "snomed-ct", "73761001", None, None, None, date(2023, 4, 1)),
        ("X2", None, "hcpcs", "77067", None, "26", None, date(2022, 4, 1)),
    ]
    assert con.execute(
        "select distinct encounter_id from core.procedure where source_id = 'IP'"
    ).fetchall() == [("c:IP",)]


def test_empty_staging_gives_no_codes(con):
    make_staging(con)
    stats = build_core(con, AS_OF, names=CODE_TABLES)
    assert stats["diagnosis"]["rows"] == 0 and stats["procedure"]["rows"] == 0
