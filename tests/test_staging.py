"""Staging rules: each rule on a hand-built row, typing, corrections and per-file reconciliation."""

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.check_digits import loinc_is_valid, luhn_check_digit, npi_is_valid
from pipelines.contract import TABLES
from pipelines.ingest import load_table, take_inventory
from pipelines.staging import rules_for, stage_table

AS_OF = date(2026, 9, 30)
ELIGIBILITY = [
    {
        "person_id": "P1",
        "gender": "F",
        "birth_date": "1950-01-01",
        "enrollment_start_date": "2024-01-01",
        "enrollment_end_date": "2026-12-31",
    },
    {
        "person_id": "P2",
        "gender": "male",
        "birth_date": "1960-06-15",
        "enrollment_start_date": "2024-01-01",
        "enrollment_end_date": "2026-12-31",
    },
]
CLAIM = {
    "claim_id": "C1",
    "claim_line_number": "1",
    "claim_type": "professional",
    "person_id": "P1",
    "claim_start_date": "2026-03-01",
    "claim_end_date": "2026-03-01",
    "hcpcs_code": "99213",
    "place_of_service_code": "11",
    "rendering_npi": "1467498014",
    "diagnosis_code_type": "icd-10-cm",
    "diagnosis_code_1": "E1165",
    "paid_amount": "85.10",
}


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def stage(tmp_path: Path, table: str, rows: list[dict[str, str]], as_of: date = AS_OF):
    """Load ELIGIBILITY plus ``rows`` of ``table`` and stage them; returns (con, result)."""
    _write_csv(tmp_path / "eligibility.csv", ELIGIBILITY)
    if table != "eligibility":
        _write_csv(tmp_path / f"{table}.csv", rows)
    con = duckdb.connect()
    inventory = take_inventory(tmp_path)
    for name in TABLES:
        load_table(con, name, inventory.files[name], "L1", datetime(2026, 9, 30))
    stage_table(con, "eligibility", as_of)
    return con, stage_table(con, table, as_of)


def quarantined(con, table: str) -> list[tuple[int, str, str]]:
    return con.execute(
        "select row_number, column_name, rule from audit.quarantine where table_name = $t "
        "order by row_number, rule, column_name",
        {"t": table},
    ).fetchall()


def claim(**changes: str) -> dict[str, str]:
    return {**CLAIM, **changes}


def test_a_clean_claim_is_staged_typed(tmp_path):
    con, result = stage(tmp_path, "medical_claim", [claim()])
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (1, 1, 0)
    row = con.execute(
        "select claim_line_number, claim_start_date, paid_amount, diagnosis_code_1, "
        "place_of_service_code from staging.medical_claim"
    ).fetchone()
    assert row == (1, date(2026, 3, 1), Decimal("85.10"), "E1165", "11")


def test_staged_columns_have_the_contract_types(tmp_path):
    con, _ = stage(tmp_path, "medical_claim", [claim()])
    types = dict(
        con.execute(
            "select column_name, lower(data_type) from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'medical_claim'"
        ).fetchall()
    )
    for column in TABLES["medical_claim"].columns:
        assert types[column.name] == column.sql_type, column.name
    assert types["_row_number"] == "bigint"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"claim_id": ""}, [(1, "claim_id", "missing_key")]),
        ({"person_id": " "}, [(1, "person_id", "missing_key")]),
        ({"claim_start_date": "2026-02-30"}, [(1, "claim_start_date", "malformed_date")]),
        ({"claim_end_date": "03/01/2026"}, [(1, "claim_end_date", "malformed_date")]),
        ({"paid_amount": "85,10"}, [(1, "paid_amount", "malformed_number")]),
        ({"in_network_flag": "maybe"}, [(1, "in_network_flag", "malformed_boolean")]),
        (
            {"claim_start_date": "2026-10-01", "claim_end_date": "2026-10-01"},
            [(1, "claim_end_date", "future_date"), (1, "claim_start_date", "future_date")],
        ),
        (
            {"admission_date": "2026-03-05", "discharge_date": "2026-03-04"},
            [(1, "discharge_date", "discharge_before_admission")],
        ),
        ({"claim_end_date": "2026-02-28"}, [(1, "claim_end_date", "end_before_start")]),
        ({"diagnosis_code_1": "E11$5"}, [(1, "diagnosis_code_1", "invalid_code")]),
        ({"diagnosis_code_3": "9"}, [(1, "diagnosis_code_3", "invalid_code")]),
        ({"procedure_code_1": "0SRD0J"}, [(1, "procedure_code_1", "invalid_code")]),
        ({"procedure_code_1": "0SRD0JI"}, [(1, "procedure_code_1", "invalid_code")]),
        ({"hcpcs_code": "9921"}, [(1, "hcpcs_code", "invalid_code")]),
        ({"rendering_npi": "1467498015"}, [(1, "rendering_npi", "invalid_code")]),
        ({"facility_npi": "146749801"}, [(1, "facility_npi", "invalid_code")]),
        ({"billing_npi": "UNKNOWN"}, [(1, "billing_npi", "invalid_code")]),
        ({"revenue_center_code": "45X"}, [(1, "revenue_center_code", "invalid_code")]),
        ({"bill_type_code": "1111"}, [(1, "bill_type_code", "invalid_code")]),
        ({"person_id": "P9"}, [(1, "person_id", "unknown_person")]),
    ],
)
def test_each_claim_rule_quarantines_under_its_name(tmp_path, changes, expected):
    con, result = stage(tmp_path, "medical_claim", [claim(), {**claim(claim_id="C2"), **changes}])
    shifted = [(row + 1, column, rule) for row, column, rule in expected]
    assert quarantined(con, "medical_claim") == shifted
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)


@pytest.mark.parametrize(
    ("changes", "staged"),
    [
        ({"hcpcs_code": "3044F"}, ("hcpcs_code", "3044F")),
        ({"hcpcs_code": "g0438"}, ("hcpcs_code", "G0438")),
        ({"bill_type_code": "13I"}, ("bill_type_code", "13I")),
        ({"bill_type_code": "0111"}, ("bill_type_code", "111")),
        ({"revenue_center_code": "450"}, ("revenue_center_code", "0450")),
        ({"discharge_disposition_code": "1"}, ("discharge_disposition_code", "01")),
        ({"drg_code": "89"}, ("drg_code", "089")),
        ({"procedure_code_1": "0srd0jz"}, ("procedure_code_1", "0SRD0JZ")),
        # ICD-9 claims are checked as ICD-9, not refused as bad ICD-10.
        (
            {"diagnosis_code_type": "ICD-9-CM", "diagnosis_code_1": "250.00"},
            ("diagnosis_code_1", "25000"),
        ),
        # A mislabelled type (the Tuva sample says icd-10-pcs on ICD-10-CM codes) is still checked as CM.
        (
            {"diagnosis_code_type": "icd-10-pcs", "diagnosis_code_1": "I10"},
            ("diagnosis_code_1", "I10"),
        ),
    ],
)
def test_valid_values_are_normalised_not_refused(tmp_path, changes, staged):
    con, result = stage(tmp_path, "medical_claim", [claim(**changes)])
    assert result.rows_quarantined == 0, quarantined(con, "medical_claim")
    column, value = staged
    assert con.execute(f"select {column} from staging.medical_claim").fetchone()[0] == value


def test_dotted_icd_codes_are_corrected_and_counted(tmp_path):
    con, result = stage(
        tmp_path,
        "medical_claim",
        [claim(diagnosis_code_1="E11.65", diagnosis_code_2="i50.22"), claim(claim_id="C2")],
    )
    assert result.rows_quarantined == 0
    assert result.corrections == 2
    staged = con.execute(
        "select diagnosis_code_1, diagnosis_code_2 from staging.medical_claim where claim_id = 'C1'"
    ).fetchone()
    assert staged == ("E1165", "I5022")
    corrections = con.execute(
        "select row_number, column_name, rule from audit.corrections order by column_name"
    ).fetchall()
    assert corrections == [
        (1, "diagnosis_code_1", "dotted_code"),
        (1, "diagnosis_code_2", "dotted_code"),
    ]


def test_exact_duplicate_lines_keep_the_first_copy(tmp_path):
    rows = [claim(), claim(claim_id="C2"), claim(), claim(claim_id="C2", paid_amount="0")]
    con, result = stage(tmp_path, "medical_claim", rows)
    assert quarantined(con, "medical_claim") == [(3, None, "duplicate_line")]
    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)


def test_a_row_breaking_two_rules_is_one_quarantined_row_with_two_reasons(tmp_path):
    con, result = stage(tmp_path, "medical_claim", [claim(claim_id="", diagnosis_code_1="XX")])
    assert quarantined(con, "medical_claim") == [
        (1, "diagnosis_code_1", "invalid_code"),
        (1, "claim_id", "missing_key"),
    ]
    assert result.rows_quarantined == 1
    assert result.by_rule == {"invalid_code": 1, "missing_key": 1}
    raw_row = con.execute("select raw_row from audit.quarantine limit 1").fetchone()[0]
    assert raw_row.startswith("|1|professional|P1|")


def test_counts_reconcile_per_file_and_reach_the_load_log(tmp_path):
    con, _ = stage(tmp_path, "medical_claim", [claim(), claim(claim_id="C2", person_id="P9")])
    rec = con.execute(
        "select source_file, rows_read, rows_loaded, rows_quarantined, balanced "
        "from audit.file_reconciliation where table_name = 'medical_claim'"
    ).fetchall()
    assert rec == [("medical_claim.csv", 2, 1, 1, True)]
    log = con.execute(
        "select rows_read, rows_loaded, rows_quarantined from audit.load_log "
        "where table_name = 'medical_claim'"
    ).fetchall()
    assert log == [(2, 1, 1)]


def test_restaging_replaces_the_previous_quarantine(tmp_path):
    con, _ = stage(tmp_path, "medical_claim", [claim(person_id="P9")])
    # Same rows, a later as-of date: the same single entry, not two.
    second = stage_table(con, "medical_claim", date(2026, 12, 31))
    assert second.rows_quarantined == 1
    assert con.execute("select count(*) from audit.quarantine").fetchone()[0] == 1


def test_pharmacy_ndc_forms(tmp_path):
    base = {
        "claim_id": "R1",
        "claim_line_number": "1",
        "person_id": "P2",
        "dispensing_date": "2026-05-01",
        "days_supply": "30",
        "quantity": "60",
    }
    rows = [
        {**base, "ndc_code": "00002143380"},
        {**base, "claim_id": "R2", "ndc_code": "0002-1433-80"},
        {**base, "claim_id": "R3", "ndc_code": "12345-678-90"},
        {**base, "claim_id": "R4", "ndc_code": "12345-6789-1"},
        {**base, "claim_id": "R5", "ndc_code": "0002143380"},
        {**base, "claim_id": "R6", "ndc_code": "ABC"},
    ]
    con, result = stage(tmp_path, "pharmacy_claim", rows)
    staged = con.execute(
        "select claim_id, ndc_code from staging.pharmacy_claim order by 1"
    ).fetchall()
    assert staged == [
        ("R1", "00002143380"),
        ("R2", "00002143380"),
        ("R3", "12345067890"),
        ("R4", "12345678901"),
    ]
    assert quarantined(con, "pharmacy_claim") == [
        (5, "ndc_code", "invalid_code"),
        (6, "ndc_code", "invalid_code"),
    ]
    assert result.corrections == 3


def test_loinc_check_digit_on_labs(tmp_path):
    base = {"person_id": "P1", "source_order_type": "LOINC", "result": "7.1"}
    rows = [
        {**base, "lab_result_id": "L1", "source_order_code": "4548-4"},
        {**base, "lab_result_id": "L2", "source_order_code": "4548-3"},
        {**base, "lab_result_id": "L3", "source_order_code": "45484"},
        {**base, "lab_result_id": "L4", "source_order_type": "local", "source_order_code": "A1C"},
    ]
    con, _ = stage(tmp_path, "lab_result", rows)
    assert quarantined(con, "lab_result") == [
        (2, "source_order_code", "invalid_code"),
        (3, "source_order_code", "invalid_code"),
    ]
    types = con.execute("select source_order_type from staging.lab_result order by 1").fetchall()
    assert types == [("local",), ("loinc",)]


def test_condition_codes_are_checked_by_their_code_system(tmp_path):
    base = {"person_id": "P1", "recorded_date": "2025-01-01"}
    rows = [
        {**base, "condition_id": "D1", "source_code_type": "ICD-10-CM", "source_code": "E11.9"},
        {**base, "condition_id": "D2", "source_code_type": "SNOMED CT", "source_code": "44054006"},
        {**base, "condition_id": "D3", "source_code_type": "snomed-ct", "source_code": "E119"},
        {**base, "condition_id": "D4", "source_code_type": "icd-10-cm", "source_code": "44054006"},
    ]
    con, _ = stage(tmp_path, "condition", rows)
    assert quarantined(con, "condition") == [
        (3, "source_code", "invalid_code"),
        (4, "source_code", "invalid_code"),
    ]
    staged = con.execute(
        "select condition_id, source_code_type, source_code from staging.condition order by 1"
    ).fetchall()
    assert staged == [("D1", "icd-10-cm", "E119"), ("D2", "snomed-ct", "44054006")]


def test_death_before_birth_and_sex_normalisation(tmp_path):
    rows = [
        {"person_id": "P1", "sex": "F", "birth_date": "1950-01-01", "death_date": "2025-01-01"},
        {"person_id": "P2", "sex": "M", "birth_date": "1950-01-01", "death_date": "1949-12-31"},
        {"person_id": "P3", "sex": "X", "birth_date": "1950-01-01"},
    ]
    con, _ = stage(tmp_path, "patient", rows)
    assert quarantined(con, "patient") == [(2, "death_date", "death_before_birth")]
    assert con.execute("select person_id, sex from staging.patient order by 1").fetchall() == [
        ("P1", "female"),
        ("P3", "unknown"),
    ]


def test_registry_booleans_and_unknown_people(tmp_path):
    rows = [
        {"person_id": "P1", "opted_out": "Y", "housing_instability": "0"},
        {"person_id": "P2", "opted_out": "false", "food_insecurity": "TRUE"},
        {"person_id": "P7", "opted_out": "no"},
    ]
    con, _ = stage(tmp_path, "registry", rows)
    assert quarantined(con, "registry") == [(3, "person_id", "unknown_person")]
    assert con.execute(
        "select person_id, opted_out, housing_instability, food_insecurity from staging.registry order by 1"
    ).fetchall() == [("P1", True, False, None), ("P2", False, None, True)]


def test_check_digit_helpers():
    assert luhn_check_digit("80840123456789") == 3  # CMS example NPI 1234567893
    assert npi_is_valid("1234567893") and not npi_is_valid("1234567890")
    for code in ("4548-4", "8480-6", "8462-4", "2160-0", "33914-3", "9318-7", "13457-7"):
        assert loinc_is_valid(code), code
    assert not loinc_is_valid("4548-5")


def test_rules_for_lists_every_required_key():
    rules = rules_for("medical_claim")
    for key in TABLES["medical_claim"].required:
        assert (key, "missing_key") in rules
    assert ("discharge_date", "discharge_before_admission") in rules
    assert ("diagnosis_code_25", "invalid_code") in rules


def test_tuva_sample_stages_with_its_known_dirt(tuva_dir):
    con = duckdb.connect()
    inventory = take_inventory(tuva_dir)
    for name in TABLES:
        load_table(con, name, inventory.files[name], "L1", datetime(2019, 1, 1))
    results = {name: stage_table(con, name, date(2018, 12, 31)) for name in TABLES}
    assert results["medical_claim"].rows_read == 2075
    assert results["medical_claim"].rows_quarantined == 0
    assert results["eligibility"].rows_loaded == 31
    # The sample labels ICD-10-CM diagnoses 'icd-10-pcs' on many lines; they are checked as CM.
    bad = con.execute(
        "select count(*) from staging.medical_claim where diagnosis_code_1 is not null "
        "and not regexp_matches(diagnosis_code_1, '^[A-Z][0-9]')"
    ).fetchone()[0]
    assert bad == 0
    assert all(not r.files_unbalanced for r in results.values())
