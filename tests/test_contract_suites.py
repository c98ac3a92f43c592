"""Great Expectations contract suites and the data-quality report: real verdicts, counts only."""

from datetime import date, datetime

import duckdb
import pytest

from pipelines.contract import TABLES
from pipelines.contract_suites import build_suite, ephemeral_context, validate_table
from pipelines.dq_report import render_report, write_report
from pipelines.ingest import load_table, take_inventory
from pipelines.staging import stage_table

AS_OF = date(2026, 9, 30)
SECRET = "ZZSECRETNAME"


def _staged(tmp_path, eligibility: str, claims: str | None = None):
    (tmp_path / "eligibility.csv").write_text(eligibility)
    if claims:
        (tmp_path / "medical_claim.csv").write_text(claims)
    con = duckdb.connect()
    inventory = take_inventory(tmp_path)
    for name in TABLES:
        load_table(con, name, inventory.files[name], "L1", datetime(2026, 9, 30))
    for name in TABLES:
        stage_table(con, name, AS_OF)
    return con


ELIG = (
    "person_id,gender,last_name,birth_date,enrollment_start_date,enrollment_end_date\n"
    f"P1,F,{SECRET},1950-01-01,2024-01-01,2026-12-31\n"
    "P2,M,Doe,1960-01-01,2024-01-01,2026-12-31\n"
)


def test_suite_has_blocking_and_reported_expectations():
    ephemeral_context()
    suite, critical = build_suite("medical_claim", AS_OF)
    labels = [e.meta["label"] for e in suite.expectations]
    assert labels[0] == "columns are the contract's, in order"
    assert "claim_id not null" in labels
    assert "rendering_npi is a valid npi code" in labels
    assert "discharge_date between 1900-01-01 and the as-of date" in labels
    assert critical["claim_id not null"] is True
    assert critical["claim_type in institutional, professional, undetermined"] is False


def test_clean_tables_pass(tmp_path):
    con = _staged(tmp_path, ELIG)
    outcome = validate_table(con, "eligibility", AS_OF)
    assert outcome.passed
    assert (outcome.rows_in_table, outcome.rows_validated) == (2, 2)
    assert outcome.evaluated == 8  # columns, 3 keys, 3 event dates, sex


def test_a_blocking_expectation_fails_with_a_count_and_no_value(tmp_path):
    con = _staged(tmp_path, ELIG)
    # Tamper with staging behind the rules' back: the second line must notice.
    con.execute(f"update staging.eligibility set person_id = null where last_name = '{SECRET}'")
    con.execute(
        "update staging.eligibility set birth_date = date '2027-01-01' where last_name = 'Doe'"
    )
    outcome = validate_table(con, "eligibility", AS_OF)
    assert not outcome.passed
    assert outcome.failed_critical == [
        "person_id not null (1 rows)",
        "birth_date between 1900-01-01 and the as-of date (1 rows)",
    ]
    assert SECRET not in repr(outcome)


def test_a_reported_expectation_does_not_block(tmp_path):
    claims = (
        "claim_id,claim_line_number,claim_type,person_id,claim_start_date,claim_end_date\n"
        "C1,1,professional,P1,2026-01-05,2026-01-05\n"
        "C2,1,dental,P2,2026-01-06,2026-01-06\n"
    )
    con = _staged(tmp_path, ELIG, claims)
    outcome = validate_table(con, "medical_claim", AS_OF)
    assert outcome.passed
    assert outcome.failed_warning == [
        "claim_type in institutional, professional, undetermined (1 rows)"
    ]


def test_large_tables_are_validated_on_a_repeatable_sample(tmp_path, monkeypatch):
    monkeypatch.setattr("pipelines.contract_suites.MAX_ROWS", 1)
    con = _staged(tmp_path, ELIG)
    outcome = validate_table(con, "eligibility", AS_OF)
    assert (outcome.rows_in_table, outcome.rows_validated) == (2, 1)


@pytest.mark.parametrize("as_of", [AS_OF])
def test_report_counts_rules_and_never_shows_row_values(tmp_path, as_of):
    claims = (
        "claim_id,claim_line_number,claim_type,person_id,claim_start_date,claim_end_date,diagnosis_code_1\n"
        "C1,1,professional,P1,2026-01-05,2026-01-05,E11.9\n"
        f"C2,1,professional,{SECRET},2026-01-06,2026-01-06,I10\n"
        "C3,1,professional,P2,2026-13-06,2026-01-06,I10\n"
    )
    con = _staged(tmp_path, ELIG, claims)
    page, figures = render_report(con, as_of, "run-1")
    assert SECRET not in page
    assert figures == {
        "rows_read": 5,
        "rows_quarantined": 2,
        "quarantined_share": 0.4,
        "suites_failing": 0,
    }
    assert "unknown_person" in page and "malformed_date" in page and "dotted_code" in page
    path = write_report(tmp_path / "out", as_of, page)
    assert path == tmp_path / "out" / "data-quality" / "2026-09-30" / "index.html"
    assert path.read_text(encoding="utf-8") == page
    assert not list(path.parent.glob(".index.*"))


def test_a_missing_column_fails_the_column_list_and_its_expectations(tmp_path):
    con = _staged(tmp_path, ELIG)
    con.execute("alter table staging.eligibility drop column birth_date")
    outcome = validate_table(con, "eligibility", AS_OF)
    assert not outcome.passed
    assert outcome.failed_critical == [
        "columns are the contract's, in order",
        "birth_date between 1900-01-01 and the as-of date (could not be evaluated)",
    ]
    # Only the columns the expectations read are converted; the others still count as present.
    assert outcome.evaluated == 8
