"""Labs (LOINC, numeric parsing, units, analytes), vitals (incl. CPT II BP bands) and fills."""

import csv
from datetime import date

import duckdb
import pytest

from pipelines.check_digits import loinc_is_valid
from pipelines.core import LAB_ANALYTES_CSV, build_core
from tests.core_fixtures import make_staging

AS_OF = date(2024, 12, 31)
BASE_TABLES = [
    "medical_claim_adjudication",
    "medical_claim_final",
    "inpatient_stay_claim",
    "inpatient_stay",
    "encounter_link",
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def lab(lab_id, result, units=None, **kw):
    row = {
        "lab_result_id": lab_id,
        "person_id": "P1",
        "result": result,
        "source_units": units,
        "collection_datetime": "2024-03-01 08:30:00",
        "result_datetime": "2024-03-02 10:00:00",
    }
    row.update(kw)
    return row


def test_lab_analytes_value_set_is_well_formed():
    with LAB_ANALYTES_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["value_set", "code_system", "code", "description", "source", "version"]
    by_set: dict[str, set[str]] = {}
    for row in rows:
        by_set.setdefault(row["value_set"], set()).add(row["code"])
        assert loinc_is_valid(row["code"]), row["code"]
        assert row["code_system"] == "loinc"
        assert row["source"] == f"https://loinc.org/{row['code']}/"
    assert by_set["hba1c"] == {"4548-4", "17856-6", "4549-2"}
    assert len(by_set["egfr"]) == 8
    assert by_set["uacr"] == {"9318-7", "14959-1", "13705-9", "32294-1"}
    assert by_set["urine_albumin"] == {"14957-5", "1754-1"}
    assert by_set["urine_creatinine"] == {"2161-8", "20624-3"}
    assert by_set["ldl"] == {"13457-7", "18262-6", "2089-1"}
    assert sum(len(codes) for codes in by_set.values()) == len(rows)  # no code listed twice


def test_lab_loinc_choice_numeric_parsing_units_and_analytes(con):
    make_staging(
        con,
        lab_result=[
            lab(
                "L1",
                "<7.0",
                "%",
                normalized_component_code="4548-4",
                normalized_component_type="loinc",
                source_order_code="55454-3",
                source_order_type="loinc",
            ),
            lab("L2", "6.5%", None, source_order_code="17856-6"),  # no type: LOINC by shape
            lab(
                "L3",
                ">60",
                "mL/min/{1.73_m2}",
                source_component_code="98979-8",
                source_component_type="loinc",
            ),
            lab(
                "L4",
                "1,200",
                "ug/mg",
                source_component_code="9318-7",
                source_component_type="loinc",
            ),
            lab(
                "L5",
                "positive",
                None,
                source_component_code="29771-3",
                source_component_type="loinc",
            ),
            lab(
                "L6",
                "5-10",
                "MG/DL",
                source_component_code="13457-7",
                source_component_type="loinc",
            ),
            lab("L7", "74", "mL/min", source_order_code="33914-3", source_order_type="loinc"),
            lab(
                "L8",
                "112",
                "mg/dL",
                source_component_code="LDL-C",
                source_component_type="local",
                source_order_code="2089-1",
                source_order_type="loinc",
                collection_datetime=None,
            ),
            lab("L9", "6.1", "%", source_component_code="4548-4", status="cancelled"),
        ],
    )
    build_core(con, AS_OF, names=[*BASE_TABLES, "lab"])
    rows = con.execute(
        "select lab_result_id, loinc, analyte, value_numeric, value_comparator, unit, lab_date "
        "from core.lab order by lab_result_id"
    ).fetchall()
    march1, march2 = date(2024, 3, 1), date(2024, 3, 2)
    assert rows == [
        ("L1", "4548-4", "hba1c", 7.0, "<", "%", march1),
        ("L2", "17856-6", "hba1c", 6.5, None, None, march1),
        ("L3", "98979-8", "egfr", 60.0, ">", "mL/min/1.73m2", march1),
        ("L4", "9318-7", "uacr", 1200.0, None, "mg/g", march1),
        ("L5", "29771-3", None, None, None, None, march1),
        ("L6", "13457-7", "ldl", None, None, "mg/dL", march1),
        ("L7", "33914-3", "egfr", 74.0, None, "mL/min/1.73m2", march1),
        ("L8", "2089-1", "ldl", 112.0, None, "mg/dL", march2),  # result date as fallback
    ]


def test_vitals_from_observations_and_bp_bands_from_cpt_ii_codes(con):
    def obs(obs_id, code, result, units, **kw):
        row = {
            "observation_id": obs_id,
            "person_id": "P1",
            "observation_date": "2024-04-01",
            "source_code_type": "loinc",
            "source_code": code,
            "result": result,
            "source_units": units,
        }
        row.update(kw)
        return row

    def line(n, code, charge):
        return {
            "claim_id": "OV",
            "claim_line_number": n,
            "claim_type": "professional",
            "person_id": "P1",
            "claim_start_date": "2024-05-01",
            "place_of_service_code": "11",
            "hcpcs_code": code,
            "paid_amount": 0 if code.endswith("F") else 80,
            "allowed_amount": 0 if code.endswith("F") else 100,
            "charge_amount": charge,
        }

    make_staging(
        con,
        observation=[
            obs("O1", "8480-6", "132", "mm[Hg]"),
            obs("O2", "8462-4", "84", "mmHg"),
            obs("O3", "39156-5", "27.5", "kg/m2"),
            obs("O4", "85354-9", "118/76", "mm[Hg]", observation_date="2024-04-02"),
            obs("O5", "72514-3", "3", "{score}"),  # pain score: not a vital
            obs("O6", "29463-7", "81.2", "KG"),
        ],
        medical_claim=[line(1, "99214", 150), line(2, "3075F", 0), line(3, "3079F", 0.01)],
    )
    build_core(con, AS_OF, names=[*BASE_TABLES, "vital"])
    rows = con.execute(
        "select vital_date, kind, value_numeric, unit, band_label, code, source, encounter_id "
        "from core.vital order by vital_date, kind"
    ).fetchall()
    apr1, apr2, may1 = date(2024, 4, 1), date(2024, 4, 2), date(2024, 5, 1)
    assert rows == [
        (apr1, "bmi", 27.5, "kg/m2", None, "39156-5", "observation", None),
        (apr1, "diastolic_bp", 84.0, "mm[Hg]", None, "8462-4", "observation", None),
        (apr1, "systolic_bp", 132.0, "mm[Hg]", None, "8480-6", "observation", None),
        (apr1, "weight", 81.2, "kg", None, "29463-7", "observation", None),
        (apr2, "diastolic_bp", 76.0, "mm[Hg]", None, "85354-9", "observation", None),
        (apr2, "systolic_bp", 118.0, "mm[Hg]", None, "85354-9", "observation", None),
        (may1, "diastolic_bp_band", None, None, "80-89", "3079F", "medical_claim", "c:OV"),
        (may1, "systolic_bp_band", None, None, "130-139", "3075F", "medical_claim", "c:OV"),
    ]


def test_pharmacy_reversals_net_out_and_ehr_medications_join(con):
    def fill(claim_id, sign=1, **kw):
        row = {
            "claim_id": claim_id,
            "claim_line_number": 1,
            "person_id": "P1",
            "dispensing_date": "2024-01-05",
            "ndc_code": "00093721401",
            "quantity": 30 * sign,
            "days_supply": 30,
            "paid_date": "2024-01-05",
            "paid_amount": 12.5 * sign,
            "allowed_amount": 22.5 * sign,
        }
        row.update(kw)
        return row

    make_staging(
        con,
        pharmacy_claim=[
            fill("R1"),
            fill("R1-R", -1, paid_date="2024-01-07"),  # the generator's NCPDP reversal
            fill("R2", dispensing_date="2024-02-04"),
            fill("R3", dispensing_date="2024-03-05", paid_amount=0, allowed_amount=8),
            fill(
                "R3",
                -1,
                dispensing_date="2024-03-05",
                paid_amount=0,
                allowed_amount=-8,
                paid_date="2024-03-06",
            ),  # a reversal of a $0-paid fill, same claim id
            fill("R4", dispensing_date="2024-04-03", days_supply=90, quantity=90),
        ],
        medication=[
            {
                "medication_id": "M1",
                "person_id": "P1",
                "prescribing_date": "2023-12-28",
                "source_code_type": "rxnorm",
                "source_code": "197361",
            },
            {
                "medication_id": "M2",
                "person_id": "P1",
                "prescribing_date": "2023-12-28",
                "ndc_code": "00093721401",
            },
            {
                "medication_id": "M3",
                "person_id": "P1",
                "prescribing_date": "2023-12-28",
                "source_code_type": "atc",
                "source_code": "C08CA01",
            },
        ],
    )
    stats = build_core(con, AS_OF, names=["pharmacy_fill"])
    rows = con.execute(
        "select source, source_id, dispensing_date, ndc, rxnorm, days_supply "
        "from core.pharmacy_fill order by source desc, source_id"
    ).fetchall()
    assert rows == [
        ("pharmacy_claim", "R2", date(2024, 2, 4), "00093721401", None, 30),
        ("pharmacy_claim", "R4", date(2024, 4, 3), "00093721401", None, 90),
        ("medication", "M1", None, None, "197361", None),
        ("medication", "M2", None, "00093721401", None, None),
    ]
    assert stats["pharmacy_fill"]["claim_lines_received"] == 6


def test_empty_staging_gives_empty_result_tables(con):
    make_staging(con)
    stats = build_core(con, AS_OF, names=[*BASE_TABLES, "lab", "vital", "pharmacy_fill"])
    assert (stats["lab"]["rows"], stats["vital"]["rows"], stats["pharmacy_fill"]["rows"]) == (
        0,
        0,
        0,
    )


def test_a_repriced_pharmacy_reversal_still_cancels_the_fill(con):
    make_staging(
        con,
        pharmacy_claim=[
            {
                "claim_id": "F1",
                "claim_line_number": 1,
                "person_id": "P1",
                "dispensing_date": "2024-01-05",
                "ndc_code": "00093721401",
                "quantity": 30,
                "paid_date": "2024-01-05",
                "paid_amount": 12.5,
            },
            {
                "claim_id": "F1-R",
                "claim_line_number": 1,
                "person_id": "P1",
                "dispensing_date": "2024-01-05",
                "ndc_code": "00093721401",
                "quantity": -30,
                "paid_date": "2024-01-09",
                "paid_amount": -12.0,
            },
        ],
    )
    stats = build_core(con, AS_OF, names=["pharmacy_fill"])
    assert stats["pharmacy_fill"]["rows"] == 0
