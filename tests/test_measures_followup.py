"""Follow-up after discharge: FUH (mental illness, 7 and 30 days) and any outpatient follow-up
within 7 / 14 days. One hand-built discharge per rule boundary; the unit is the discharge."""

from datetime import date

import pytest

from tests.test_measures_support import Population, run

MEASURES = ["fuh7", "fuh30", "fu_discharge_7", "fu_discharge_14"]
SCHIZOPHRENIA = "F209"


def episode(rows, measure, pid, discharged):
    """The row of the discharge on that date, or None when it is not a unit of the measure."""
    found = [
        r
        for r in rows.get((measure, pid), [])
        if r["evidence"].startswith(f"discharged {discharged}:")
    ]
    assert len(found) <= 1
    return found[0] if found else None


def discharged(pop, pid, admit="2025-03-01", discharge="2025-03-10", dx1=SCHIZOPHRENIA, **kw):
    if not any(r["person_id"] == pid for r in pop.tables["eligibility"]):
        pop.person(pid, kw.pop("birth", "1975-06-01"))
    pop.stay(pid, admit, discharge, dx1, **kw)
    return pid


@pytest.fixture(scope="module")
def rows():
    pop = Population()
    pop.visit(discharged(pop, "FU_DAY_1"), "2025-03-11", SCHIZOPHRENIA)
    pop.visit(discharged(pop, "FU_SAME_DAY"), "2025-03-10", SCHIZOPHRENIA)
    pop.visit(discharged(pop, "FU_DAY_7"), "2025-03-17", SCHIZOPHRENIA)
    pop.visit(discharged(pop, "FU_DAY_8"), "2025-03-18", SCHIZOPHRENIA)
    pop.visit(discharged(pop, "FU_DAY_30"), "2025-04-09", SCHIZOPHRENIA)
    pop.visit(discharged(pop, "FU_DAY_31"), "2025-04-10", SCHIZOPHRENIA)
    pop.visit(discharged(pop, "FU_NON_MH_VISIT"), "2025-03-13", "Z09")
    pop.claim(discharged(pop, "FU_TELEHEALTH"), "2025-03-12", ("99214",), ("F329",), pos="10")
    discharged(pop, "FU_READMIT_DAY_10")
    pop.stay("FU_READMIT_DAY_10", "2025-03-20", "2025-03-25", "I5023")
    discharged(pop, "FU_TO_SNF", disposition="03")
    discharged(pop, "FU_DEC_1", admit="2025-11-25", discharge="2025-12-01")
    discharged(pop, "FU_DEC_2", admit="2025-11-25", discharge="2025-12-02")
    # A transfer: one episode, anchored on the second hospital's discharge.
    discharged(pop, "FU_TRANSFER", "2025-05-01", "2025-05-03", disposition="02")
    pop.stay("FU_TRANSFER", "2025-05-03", "2025-05-08", SCHIZOPHRENIA, facility="1245319599")
    pop.visit("FU_TRANSFER", "2025-05-06", SCHIZOPHRENIA)  # during the second stay
    discharged(pop, "FU_DIED", disposition="20")
    pop.visit(discharged(pop, "FU_NON_MH_STAY", dx1="I5023"), "2025-03-14", "I5022")
    discharged(pop, "FU_CHILD_5", birth="2020-01-01")
    pop.claim(discharged(pop, "FU_HOME_VISIT", dx1="I5023"), "2025-03-14", ("99347",), pos="12")
    pop.claim(discharged(pop, "FU_TCM", dx1="I5023"), "2025-03-15", ("99496",), ("Z09",))
    con = pop.build()
    yield run(con, MEASURES)
    con.close()


@pytest.fixture(scope="module")
def open_rows():
    pop = Population()
    discharged(pop, "FU_RECENT", "2026-06-20", "2026-06-27", dx1="I5023")
    discharged(pop, "FU_STALE", "2026-05-25", "2026-06-01", dx1="I5023")
    as_of = date(2026, 6, 30)
    con = pop.build(as_of)
    yield run(con, ["fu_discharge_7"], (date(2026, 1, 1), date(2026, 12, 31)), as_of)
    con.close()


@pytest.mark.parametrize(
    ("pid", "fuh7", "fuh30"),
    [
        ("FU_DAY_1", True, True),
        ("FU_SAME_DAY", False, False),  # a visit on the discharge day does not count
        ("FU_DAY_7", True, True),
        ("FU_DAY_8", False, True),
        ("FU_DAY_30", False, True),
        ("FU_DAY_31", False, False),
        ("FU_NON_MH_VISIT", False, False),  # needs a mental-health diagnosis
        ("FU_TELEHEALTH", True, True),
    ],
)
def test_mental_health_follow_up_windows(rows, pid, fuh7, fuh30):
    seven = episode(rows, "fuh7", pid, "2025-03-10")
    thirty = episode(rows, "fuh30", pid, "2025-03-10")
    assert seven["in_denominator"] and not seven["excluded"]
    assert seven["in_numerator"] is fuh7, seven["evidence"]
    assert thirty["in_numerator"] is fuh30, thirty["evidence"]


def test_follow_up_evidence_counts_days_after_discharge(rows):
    assert episode(rows, "fuh7", "FU_DAY_7", "2025-03-10")["evidence"] == (
        "discharged 2025-03-10: mental-health follow-up (office) on 2025-03-17, day 7"
    )
    assert episode(rows, "fuh7", "FU_DAY_8", "2025-03-10")["evidence"] == (
        "discharged 2025-03-10: no mental-health follow-up visit from 2025-03-11 to 2025-03-17"
    )


def test_readmission_within_30_days_removes_the_fuh_discharge_but_not_a_7_day_one(rows):
    fuh = episode(rows, "fuh30", "FU_READMIT_DAY_10", "2025-03-10")
    assert fuh["excluded"] and fuh["exclusion_reason"] == "readmission_or_nonacute_care"
    assert fuh["evidence"] == "discharged 2025-03-10: acute readmission on 2025-03-20"
    seven = episode(rows, "fu_discharge_7", "FU_READMIT_DAY_10", "2025-03-10")
    assert not seven["excluded"] and not seven["in_numerator"]


def test_discharge_to_a_skilled_nursing_facility_is_excluded(rows):
    for measure in MEASURES:
        row = episode(rows, measure, "FU_TO_SNF", "2025-03-10")
        assert row["excluded"] and row["exclusion_reason"] == "readmission_or_nonacute_care"


def test_fuh_index_discharges_run_to_december_1(rows):
    assert episode(rows, "fuh7", "FU_DEC_1", "2025-12-01") is not None
    assert episode(rows, "fuh7", "FU_DEC_2", "2025-12-02") is None
    assert episode(rows, "fu_discharge_7", "FU_DEC_2", "2025-12-02") is not None


def test_a_transfer_is_one_episode_anchored_on_the_last_discharge(rows):
    assert len(rows[("fuh7", "FU_TRANSFER")]) == 1
    row = episode(rows, "fuh7", "FU_TRANSFER", "2025-05-08")
    # The visit on 2025-05-06 happened before the final discharge: not a follow-up.
    assert not row["in_numerator"]
    assert row["episode_id"].startswith("c:")


def test_deaths_in_hospital_children_and_other_diagnoses_are_not_fuh_units(rows):
    assert ("fuh7", "FU_DIED") not in rows
    assert ("fu_discharge_7", "FU_DIED") not in rows
    assert ("fuh7", "FU_CHILD_5") not in rows  # 6 and older at discharge
    assert ("fuh7", "FU_NON_MH_STAY") not in rows
    assert episode(rows, "fu_discharge_7", "FU_NON_MH_STAY", "2025-03-10")["in_numerator"]


@pytest.mark.parametrize(
    ("pid", "seven", "fourteen"),
    [
        ("FU_NON_MH_VISIT", True, True),
        ("FU_SAME_DAY", False, False),
        ("FU_DAY_8", False, True),
        ("FU_HOME_VISIT", True, True),  # home visit code at POS 12
        ("FU_TCM", True, True),  # transitional care management 99496
    ],
)
def test_any_outpatient_follow_up_within_7_and_14_days(rows, pid, seven, fourteen):
    assert episode(rows, "fu_discharge_7", pid, "2025-03-10")["in_numerator"] is seven
    assert episode(rows, "fu_discharge_14", pid, "2025-03-10")["in_numerator"] is fourteen


def test_follow_up_gap_is_open_only_while_the_window_has_days_left(open_rows):
    recent = episode(open_rows, "fu_discharge_7", "FU_RECENT", "2026-06-27")
    stale = episode(open_rows, "fu_discharge_7", "FU_STALE", "2026-06-01")
    assert recent["in_denominator"] and recent["gap_open"]
    assert stale["in_denominator"] and not stale["gap_open"]
