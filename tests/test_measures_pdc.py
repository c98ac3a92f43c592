"""PQA proportion of days covered (pdc_statins, pdc_diabetes, pdc_rasa): fills built by hand so
the covered days can be counted on paper. Measurement period 2025 (365 days)."""

from datetime import date

import pytest

from tests.test_measures_support import (
    ENTRESTO,
    INSULIN,
    LOSARTAN,
    METFORMIN,
    SITAGLIPTIN,
    STATIN,
    Population,
    one,
    run,
)

MEASURES = ["pdc_statins", "pdc_diabetes", "pdc_rasa"]


def fills(pop: Population, pid: str, ndc: str, *days: tuple[str, int]) -> str:
    if not any(r["person_id"] == pid for r in pop.tables["eligibility"]):
        pop.person(pid, "1955-06-01", payer_type="medicare")
    for day, supply in days:
        pop.fill(pid, day, ndc, supply)
    return pid


@pytest.fixture(scope="module")
def rows():
    pop = Population()
    fills(pop, "PDC_MONTHLY", STATIN, *[(f"2025-{m:02d}-01", 30) for m in range(1, 13)])
    # 90 days from Jan 1; the Feb 1 fill overlaps and shifts to Apr 1 (90 days); Jul 1 adds 90:
    # 270 covered days. Without the shift the overlap would count once: 211.
    fills(pop, "PDC_SHIFTED", STATIN, ("2025-01-01", 90), ("2025-02-01", 90), ("2025-07-01", 90))
    # 146 + 146 contiguous days = 292 / 365 = 0.80 exactly; one day less is 0.797.
    fills(pop, "PDC_EXACTLY_80", STATIN, ("2025-01-01", 146), ("2025-05-27", 146))
    fills(pop, "PDC_BELOW_80", STATIN, ("2025-01-01", 146), ("2025-05-27", 145))
    fills(pop, "PDC_ONE_FILL", STATIN, ("2025-01-01", 90))
    fills(pop, "PDC_SAME_DAY", STATIN, ("2025-03-01", 30), ("2025-03-01", 30))
    # The index fill must be at least 91 days before the period end (on or before Oct 1).
    fills(pop, "PDC_INDEX_OCT_1", STATIN, ("2025-10-01", 30), ("2025-11-01", 60))
    fills(pop, "PDC_INDEX_OCT_2", STATIN, ("2025-10-02", 30), ("2025-11-02", 60))
    # Days after the period end are not covered days: 30 + 31 of 365.
    fills(pop, "PDC_CAPPED", STATIN, ("2025-01-01", 30), ("2025-12-01", 90))
    fills(pop, "PDC_ESRD", STATIN, ("2025-01-01", 180), ("2025-07-01", 180))
    pop.visit("PDC_ESRD", "2025-04-01", "N186")
    # Two diabetes drug classes on the same days: covered once, not shifted into each other.
    fills(pop, "PDC_TWO_CLASSES", METFORMIN, ("2025-01-01", 180), ("2025-07-01", 180))
    fills(pop, "PDC_TWO_CLASSES", SITAGLIPTIN, ("2025-01-01", 180))
    fills(pop, "PDC_INSULIN", METFORMIN, ("2025-01-01", 90), ("2025-04-01", 90))
    fills(pop, "PDC_INSULIN", INSULIN, ("2025-02-01", 30))
    fills(pop, "PDC_ENTRESTO", LOSARTAN, ("2025-01-01", 90), ("2025-04-01", 90))
    fills(pop, "PDC_ENTRESTO", ENTRESTO, ("2025-08-01", 30))
    fills(
        pop,
        "PDC_RASA",
        LOSARTAN,
        ("2025-01-01", 90),
        ("2025-04-01", 90),
        ("2025-07-01", 90),
        ("2025-10-01", 90),
    )
    con = pop.build()
    yield run(con, MEASURES)
    con.close()


@pytest.fixture(scope="module")
def open_rows():
    """The 2026 period seen on 2026-06-30 (181 days observed, 184 still to come)."""
    pop = Population()
    # 30 + 90 = 120 of 181 days so far (66%); 120 + 184 = 304 of 365 (83%) is still possible.
    fills(pop, "PDC_REACHABLE", STATIN, ("2026-01-01", 30), ("2026-03-01", 90))
    # 60 of 181 so far; at best 244 of 365 (67%): the year is lost.
    fills(pop, "PDC_UNREACHABLE", STATIN, ("2026-01-01", 30), ("2026-02-01", 30))
    as_of = date(2026, 6, 30)
    con = pop.build(as_of)
    yield run(con, ["pdc_statins"], (date(2026, 1, 1), date(2026, 12, 31)), as_of)
    con.close()


@pytest.mark.parametrize(
    ("pid", "covered", "adherent"),
    [
        ("PDC_SHIFTED", "270 of 365 days", False),
        ("PDC_EXACTLY_80", "292 of 365 days", True),
        ("PDC_BELOW_80", "291 of 365 days", False),
        ("PDC_CAPPED", "61 of 365 days", False),
        ("PDC_INDEX_OCT_1", "90 of 92 days", True),
    ],
)
def test_days_covered_shifted_forward_capped_and_judged_at_80_percent(rows, pid, covered, adherent):
    row = one(rows, "pdc_statins", pid)
    assert row["in_denominator"] and not row["excluded"]
    assert covered in row["evidence"], row["evidence"]
    assert row["in_numerator"] is adherent


def test_monthly_fills_are_adherent(rows):
    assert one(rows, "pdc_statins", "PDC_MONTHLY")["in_numerator"]


def test_fewer_than_two_fill_dates_is_not_in_the_measure(rows):
    assert ("pdc_statins", "PDC_ONE_FILL") not in rows
    assert ("pdc_statins", "PDC_SAME_DAY") not in rows


def test_index_fill_after_october_1_leaves_too_short_a_treatment_period(rows):
    row = one(rows, "pdc_statins", "PDC_INDEX_OCT_2")
    assert not row["in_denominator"]
    assert row["evidence"] == "first statin fill after 2025-10-01: treatment period too short"


def test_esrd_is_excluded(rows):
    row = one(rows, "pdc_statins", "PDC_ESRD")
    assert row["excluded"] and row["exclusion_reason"] == "esrd_or_dialysis"


def test_diabetes_classes_overlap_without_shifting_into_each_other(rows):
    row = one(rows, "pdc_diabetes", "PDC_TWO_CLASSES")
    assert "360 of 365 days" in row["evidence"]
    assert row["in_numerator"]


def test_insulin_users_leave_the_diabetes_measure(rows):
    row = one(rows, "pdc_diabetes", "PDC_INSULIN")
    assert row["excluded"] and row["exclusion_reason"] == "insulin"


def test_sacubitril_valsartan_users_leave_the_ras_antagonist_measure(rows):
    assert one(rows, "pdc_rasa", "PDC_ENTRESTO")["exclusion_reason"] == "sacubitril_valsartan"
    assert one(rows, "pdc_rasa", "PDC_RASA")["in_numerator"]


def test_no_gap_after_the_period_closed(rows):
    assert not one(rows, "pdc_statins", "PDC_SHIFTED")["gap_open"]


def test_open_period_gap_only_while_80_percent_is_still_reachable(open_rows):
    reachable = one(open_rows, "pdc_statins", "PDC_REACHABLE")
    assert "120 of 181 days" in reachable["evidence"]
    assert not reachable["in_numerator"] and reachable["gap_open"]
    lost = one(open_rows, "pdc_statins", "PDC_UNREACHABLE")
    assert not lost["in_numerator"] and not lost["gap_open"]
