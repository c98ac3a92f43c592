"""core.person, core.enrollment and core.member_months on hand-checkable fixtures."""

from datetime import date

import duckdb
import pytest

from pipelines.core import build_core
from tests.core_fixtures import make_staging

AS_OF = date(2024, 12, 31)


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def span(person, start, end, payer_type="medicare", **kw):
    row = {
        "person_id": person,
        "enrollment_start_date": start,
        "enrollment_end_date": end,
        "payer": f"{payer_type} plan",
        "payer_type": payer_type,
    }
    row.update(kw)
    return row


def build(con, as_of=AS_OF, **tables):
    make_staging(con, **tables)
    return build_core(
        con,
        as_of,
        names=[
            "medical_claim_adjudication",
            "medical_claim_final",
            "person",
            "enrollment",
            "member_months",
        ],
    )


def rows(con, sql):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_person_eligibility_wins_and_patient_fills_gaps(con):
    build(
        con,
        eligibility=[
            span(
                "A",
                "2023-01-01",
                "2023-12-31",
                gender="female",
                birth_date="1950-06-15",
                race="white",
                zip_code="43004",
                dual_status_code="02",
            ),
            span(
                "A",
                "2024-01-01",
                "2024-12-31",
                payer_type="medicaid",
                gender="female",
                race="black or african american",
            ),
        ],
        patient=[
            {
                "person_id": "A",
                "first_name": "Ann",
                "last_name": "Lee",
                "sex": "male",
                "race": "asian",
                "phone": "6145550100",
                "birth_date": "1951-01-01",
            },
            {"person_id": "B", "first_name": "Bo", "sex": "male", "birth_date": "1980-03-01"},
        ],
        registry=[
            {
                "person_id": "A",
                "program": "cm",
                "enrolled_date": "2023-01-01",
                "preferred_language": "english",
            },
            {
                "person_id": "A",
                "program": "dm",
                "enrolled_date": "2024-05-01",
                "preferred_language": "spanish",
            },
        ],
    )
    people = rows(con, "select * from core.person order by person_id")
    a, b = people
    assert (a["person_id"], a["first_name"], a["last_name"]) == ("A", "Ann", "Lee")
    assert a["sex"] == "female"  # eligibility's gender beats the patient's sex
    assert a["birth_date"] == date(1950, 6, 15)
    assert a["age_as_of"] == 74
    assert a["race"] == "black or african american"  # the most recent span's value
    assert a["zip_code"] == "43004"  # the latest span lacks it: the earlier span's value
    assert a["phone"] == "6145550100"  # only the patient row has one
    assert (a["payer_type"], a["payer"]) == ("medicaid", "medicaid plan")
    assert a["dual_status_code"] == "02"  # the most recent known dual code
    assert a["preferred_language"] == "spanish"
    assert (a["in_eligibility"], a["in_patient"], a["in_registry"]) == (True, True, True)
    assert (b["in_eligibility"], b["in_patient"], b["payer_type"]) == (False, True, None)
    assert b["age_as_of"] == 44


def test_death_is_the_earliest_credible_date_including_claims(con):
    build(
        con,
        eligibility=[
            span("A", "2024-01-01", "2024-12-31", birth_date="1940-01-01", death_date="2024-06-20"),
            span("B", "2024-01-01", "2024-12-31", birth_date="1940-01-01", death_date="2025-03-01"),
            span("C", "2024-01-01", "2024-12-31", birth_date="1940-01-01", death_date="1939-05-01"),
            span("D", "2024-01-01", "2024-12-31", birth_date="1940-01-01", death_flag=1),
        ],
        patient=[{"person_id": "A", "death_date": "2024-06-25"}],
        medical_claim=[
            {
                "claim_id": "X1",
                "claim_line_number": 1,
                "claim_type": "institutional",
                "person_id": "A",
                "bill_type_code": "111",
                "claim_start_date": "2024-06-10",
                "claim_end_date": "2024-06-18",
                "discharge_date": "2024-06-18",
                "discharge_disposition_code": "20",
            },
            {
                "claim_id": "X2",
                "claim_line_number": 1,
                "claim_type": "institutional",
                "person_id": "C",
                "bill_type_code": "811",
                "claim_start_date": "2024-02-01",
                "claim_end_date": "2024-02-09",
                "discharge_disposition_code": "41",
            },
        ],
    )
    death = {
        r["person_id"]: (r["death_date"], r["death_source"], r["is_deceased"])
        for r in rows(con, "select * from core.person")
    }
    assert death["A"] == (date(2024, 6, 18), "claim_discharge_status", True)
    assert death["B"] == (None, None, False)  # after the as-of date: not credible
    assert death["C"] == (date(2024, 2, 9), "claim_discharge_status", True)  # before birth: no
    assert death["D"] == (None, None, True)  # flagged without a date


def test_enrollment_merges_contiguous_and_overlapping_spans_and_a_gap_day_splits(con):
    build(
        con,
        eligibility=[
            span("A", "2024-01-01", "2024-03-31"),
            span("A", "2024-04-01", "2024-06-30"),  # contiguous
            span("A", "2024-06-15", "2024-08-31", payer="medicare advantage"),  # overlapping
            span("A", "2024-09-02", "2024-12-31"),  # 1 September uncovered: a gap
            span("A", "2024-02-01", "2024-02-29", payer_type="medicaid"),
        ],
    )
    spans = con.execute(
        "select payer_type, payer, enrollment_start_date, enrollment_end_date, member_months, "
        "source_span_count from core.enrollment order by payer_type, enrollment_start_date"
    ).fetchall()
    assert spans == [
        ("medicaid", "medicaid plan", date(2024, 2, 1), date(2024, 2, 29), 1, 1),
        ("medicare", "medicare advantage", date(2024, 1, 1), date(2024, 8, 31), 8, 3),
        ("medicare", "medicare plan", date(2024, 9, 2), date(2024, 12, 31), 4, 1),
    ]


def test_enrollment_member_months_stop_at_the_as_of_month(con):
    build(
        con,
        as_of=date(2024, 10, 15),
        eligibility=[
            span("A", "2024-09-02", "9999-12-31"),
            span("B", "2025-01-01", "2025-12-31"),
        ],
    )
    assert con.execute(
        "select person_id, member_months from core.enrollment order by person_id"
    ).fetchall() == [("A", 2), ("B", 0)]
    assert con.execute(
        "select year_month from core.member_months order by year_month"
    ).fetchall() == [
        ("202409",),
        ("202410",),
    ]


def test_member_months_any_day_of_the_month_and_the_majority_span_wins(con):
    build(
        con,
        eligibility=[
            span("A", "2024-01-31", "2024-02-01"),  # one day in each of two months
            span("B", "2024-01-01", "2024-03-10", dual_status_code="02"),
            span("B", "2024-03-11", "2024-04-30", payer_type="medicaid"),
        ],
    )
    months = con.execute(
        "select person_id, year_month, month_start_date, payer_type, dual_status_code, "
        "payer_type_count from core.member_months order by person_id, year_month"
    ).fetchall()
    assert months == [
        ("A", "202401", date(2024, 1, 1), "medicare", None, 1),
        ("A", "202402", date(2024, 2, 1), "medicare", None, 1),
        ("B", "202401", date(2024, 1, 1), "medicare", "02", 1),
        ("B", "202402", date(2024, 2, 1), "medicare", "02", 1),
        # 10 Medicare days against 21 Medicaid days in March; the dual code is still known.
        ("B", "202403", date(2024, 3, 1), "medicaid", "02", 2),
        ("B", "202404", date(2024, 4, 1), "medicaid", None, 1),
    ]


def test_member_months_sole_and_shared_months_of_one_person(con):
    # C: back-to-back spans that share no month (each month is its span's), then a Medicaid span
    # overlapping the second one for two months (dual coverage: those two months are ranked).
    build(
        con,
        eligibility=[
            span("C", "2024-01-01", "2024-02-29", hospice_flag=1),
            span("C", "2024-03-01", "2024-06-30", dual_status_code="08"),
            span("C", "2024-05-10", "2024-07-31", payer_type="medicaid", dual_status_code="02"),
        ],
    )
    months = con.execute(
        "select year_month, payer_type, dual_status_code, hospice_flag, payer_type_count "
        "from core.member_months order by year_month"
    ).fetchall()
    assert months == [
        ("202401", "medicare", None, 1, 1),
        ("202402", "medicare", None, 1, 1),
        ("202403", "medicare", "08", None, 1),
        ("202404", "medicare", "08", None, 1),
        # May: 31 Medicare days against 22 Medicaid days; the later span's dual code is newer.
        ("202405", "medicare", "02", None, 2),
        # June: 30 days each; the later start wins.
        ("202406", "medicaid", "02", None, 2),
        ("202407", "medicaid", "02", None, 1),
    ]


def test_empty_staging_gives_empty_person_tables(con):
    stats = build(con)
    assert {name: s["rows"] for name, s in stats.items()} == {
        "medical_claim_adjudication": 0,
        "medical_claim_final": 0,
        "person": 0,
        "enrollment": 0,
        "member_months": 0,
    }
