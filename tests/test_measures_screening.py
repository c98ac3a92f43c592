"""CMS125 breast and CMS130 colorectal cancer screening: one hand-built person per rule boundary.

Measurement period 2025 (closed: as-of 2026-09-30); an open 2026 period checks the gap rules.
"""

from datetime import date

import pytest

from tests.test_measures_support import Population, one, run

MEASURES = ["cms125", "cms130"]


def women() -> Population:
    pop = Population()

    def woman(pid, birth="1970-06-01", visit="2025-04-01"):
        pop.person(pid, birth)
        if visit:
            pop.visit(pid, visit)
        return pid

    # Mammogram window: 27 months ending at the period end = 2023-10-01 .. 2025-12-31.
    pop.claim(woman("BCS_FIRST_DAY"), "2023-10-01", ("77067",), pos="22")
    pop.claim(woman("BCS_DAY_BEFORE"), "2023-09-30", ("77067",), pos="22")
    pop.claim(woman("BCS_LAST_DAY"), "2025-12-31", ("77067",), pos="22")
    pop.procedure(woman("BCS_EHR_SNOMED"), "2025-02-01", "24623002", "snomed-ct")
    woman("BCS_NONE")
    # Age at the period end: 42-74 (CMS125v14).
    woman("BCS_AGE_41", birth="1984-01-01")
    woman("BCS_AGE_42", birth="1983-12-31")
    woman("BCS_AGE_74", birth="1951-01-01")
    woman("BCS_AGE_75", birth="1950-12-31")
    pop.person("BCS_MALE", "1970-06-01", sex="male")
    pop.visit("BCS_MALE", "2025-04-01")
    # Qualifying visit: a claim visit code, or an EHR office encounter (no CPT on EHR data).
    woman("BCS_NO_VISIT", visit=None)
    woman("BCS_EHR_VISIT", visit=None)
    pop.encounter("BCS_EHR_VISIT", "E-BCS-1", "office visit", "2025-05-05")
    # Exclusions.
    woman("BCS_BILATERAL_HISTORY")
    pop.condition("BCS_BILATERAL_HISTORY", "Z9013")
    woman("BCS_LEFT_AND_RIGHT")
    pop.claim(
        "BCS_LEFT_AND_RIGHT", "2019-03-01", ("19303",), pos="22", procedure_codes=("0HTU0ZZ",)
    )
    pop.claim("BCS_LEFT_AND_RIGHT", "2021-03-01", ("19303",), pos="22", modifiers={1: "RT"})
    woman("BCS_LEFT_ONLY")
    pop.claim("BCS_LEFT_ONLY", "2019-03-01", ("19303",), pos="22", modifiers={1: "LT"})
    woman("BCS_BILATERAL_MODIFIER")
    pop.claim("BCS_BILATERAL_MODIFIER", "2018-03-01", ("19303",), pos="22", modifiers={1: "50"})
    pop.hospice(woman("BCS_HOSPICE", birth="1955-06-01"), "2025-11-01", "2025-11-20")
    pop.hospice(woman("BCS_HOSPICE_AFTER", birth="1955-06-01"), "2026-02-01", "2026-02-20")
    pop.visit(woman("BCS_PALLIATIVE"), "2025-06-01", "Z515")
    # Frailty and advanced illness: 66+ with frailty in the period and an advanced illness or a
    # dementia medication in the period or the year before.
    pop.claim(woman("BCS_FRAIL_DEMENTIA_MED", birth="1955-06-01"), "2025-03-01", ("E0100",))
    pop.fill("BCS_FRAIL_DEMENTIA_MED", "2024-05-01", "62856024630")
    pop.claim(woman("BCS_FRAIL_65", birth="1960-06-01"), "2025-03-01", ("E0100",))
    pop.visit("BCS_FRAIL_65", "2025-03-02", "I5022")
    pop.claim(woman("BCS_FRAIL_NO_ILLNESS", birth="1955-06-01"), "2025-03-01", ("E0100",))
    woman("BCS_LONG_TERM_CARE", birth="1955-06-01")
    for row in pop.tables["eligibility"]:
        if row["person_id"] == "BCS_LONG_TERM_CARE":
            row["long_term_institutional_flag"] = 1
    return pop


def colorectal(pop: Population) -> Population:
    def adult(pid, birth="1965-06-01"):
        pop.person(pid, birth, sex="male")
        pop.visit(pid, "2025-04-01")
        return pid

    # Colonoscopy: the period or 9 years before (10 years ending at the period end).
    pop.claim(adult("COL_COLONOSCOPY_FIRST_DAY"), "2016-01-01", ("45378",), pos="24")
    pop.claim(adult("COL_COLONOSCOPY_DAY_BEFORE"), "2015-12-31", ("45378",), pos="24")
    pop.procedure(adult("COL_COLONOSCOPY_EHR_PCS"), "2017-05-01", "0DJD8ZZ", "icd-10-pcs")
    # FOBT / FIT: the period only; a lab result or a claim code.
    pop.lab(adult("COL_FIT_FIRST_DAY"), "2025-01-01", "29771-3", "negative")
    pop.lab(adult("COL_FIT_DAY_BEFORE"), "2024-12-31", "29771-3", "negative")
    pop.claim(adult("COL_FIT_CLAIM"), "2025-08-01", ("82274",), pos="81")
    # FIT-DNA: the period or 2 years before; sigmoidoscopy and CT colonography: 4 years before.
    pop.claim(adult("COL_FITDNA_FIRST_DAY"), "2023-01-01", ("81528",), pos="81")
    pop.claim(adult("COL_FITDNA_DAY_BEFORE"), "2022-12-31", ("81528",), pos="81")
    pop.claim(adult("COL_SIGMOIDOSCOPY_FIRST_DAY"), "2021-01-01", ("45330",), pos="24")
    pop.claim(adult("COL_SIGMOIDOSCOPY_DAY_BEFORE"), "2020-12-31", ("45330",), pos="24")
    pop.claim(adult("COL_CT_COLONOGRAPHY"), "2021-01-01", ("74263",), pos="22")
    adult("COL_NONE")
    # Age 46-75 at the period end (CMS130v14).
    adult("COL_AGE_45", birth="1980-01-01")
    adult("COL_AGE_46", birth="1979-12-31")
    adult("COL_AGE_75", birth="1950-01-01")
    adult("COL_AGE_76", birth="1949-12-31")
    pop.visit(adult("COL_CANCER"), "2019-02-01", "C189")
    pop.claim(adult("COL_COLECTOMY"), "2012-02-01", ("44150",), pos="21")
    return pop


@pytest.fixture(scope="module")
def closed():
    con = colorectal(women()).build()
    yield run(con, MEASURES)
    con.close()


@pytest.fixture(scope="module")
def open_period():
    """The 2026 period seen on 2026-06-30: gaps can still be closed."""
    pop = colorectal(women())
    pop.person("BCS_DIED_2026", "1970-06-01", death_date="2026-03-01", end="2026-03-01")
    pop.visit("BCS_DIED_2026", "2026-02-01")
    pop.visit("BCS_NONE", "2026-02-01")
    pop.visit("BCS_LAST_DAY", "2026-02-01")
    as_of = date(2026, 6, 30)
    con = pop.build(as_of)
    yield run(con, ["cms125"], (date(2026, 1, 1), date(2026, 12, 31)), as_of)
    con.close()


def test_mammogram_window_is_27_months_ending_at_the_period_end(closed):
    assert one(closed, "cms125", "BCS_FIRST_DAY")["in_numerator"]
    assert one(closed, "cms125", "BCS_LAST_DAY")["in_numerator"]
    before = one(closed, "cms125", "BCS_DAY_BEFORE")
    assert before["in_denominator"] and not before["in_numerator"]
    assert before["evidence"] == "no mammogram since 2023-10-01"
    assert before["last_event_date"] is None


def test_mammogram_recorded_in_the_ehr_as_snomed_counts(closed):
    row = one(closed, "cms125", "BCS_EHR_SNOMED")
    assert row["in_numerator"]
    assert row["evidence"] == "mammogram (24623002) on 2025-02-01"
    assert row["last_event_date"] == date(2025, 2, 1)


def test_breast_screening_age_is_42_to_74_at_period_end_and_women_only(closed):
    assert ("cms125", "BCS_AGE_41") not in closed
    assert one(closed, "cms125", "BCS_AGE_42")["in_denominator"]
    assert one(closed, "cms125", "BCS_AGE_74")["in_denominator"]
    assert ("cms125", "BCS_AGE_75") not in closed
    assert ("cms125", "BCS_MALE") not in closed


def test_qualifying_visit_from_a_claim_or_an_ehr_office_encounter(closed):
    no_visit = one(closed, "cms125", "BCS_NO_VISIT")
    assert not no_visit["in_denominator"]
    assert no_visit["evidence"] == "no qualifying visit since 2025-01-01"
    assert one(closed, "cms125", "BCS_EHR_VISIT")["in_denominator"]


@pytest.mark.parametrize(
    ("pid", "reason"),
    [
        ("BCS_BILATERAL_HISTORY", "bilateral_mastectomy"),
        ("BCS_LEFT_AND_RIGHT", "bilateral_mastectomy"),
        ("BCS_BILATERAL_MODIFIER", "bilateral_mastectomy"),
        ("BCS_HOSPICE", "hospice"),
        ("BCS_PALLIATIVE", "palliative_care"),
        ("BCS_FRAIL_DEMENTIA_MED", "frailty_and_advanced_illness"),
        ("BCS_LONG_TERM_CARE", "long_term_care_66_plus"),
    ],
)
def test_breast_screening_exclusions(closed, pid, reason):
    row = one(closed, "cms125", pid)
    assert row["in_denominator"] and row["excluded"]
    assert row["exclusion_reason"] == reason
    assert not row["in_numerator"] and not row["gap_open"]


@pytest.mark.parametrize(
    "pid",
    [
        "BCS_LEFT_ONLY",  # one side only is not a bilateral mastectomy
        "BCS_HOSPICE_AFTER",  # hospice after the period
        "BCS_FRAIL_65",  # frailty and advanced illness below 66
        "BCS_FRAIL_NO_ILLNESS",  # frailty without an advanced illness or dementia medication
    ],
)
def test_breast_screening_near_misses_are_not_excluded(closed, pid):
    row = one(closed, "cms125", pid)
    assert row["in_denominator"] and not row["excluded"]


def test_exclusion_evidence_says_what_was_found(closed):
    assert one(closed, "cms125", "BCS_HOSPICE")["evidence"] == (
        "hospice care (hospice) on 2025-11-01"
    )
    frail = one(closed, "cms125", "BCS_FRAIL_DEMENTIA_MED")["evidence"]
    assert "frailty indication (E0100) on 2025-03-01" in frail
    assert "dementia medication (62856024630) on 2024-05-01" in frail


def test_no_gap_is_open_once_the_period_has_closed(closed):
    assert not one(closed, "cms125", "BCS_NONE")["gap_open"]


def test_gap_is_open_while_the_period_runs_and_closed_for_the_screened_and_the_dead(open_period):
    assert one(open_period, "cms125", "BCS_NONE")["gap_open"]
    assert not one(open_period, "cms125", "BCS_LAST_DAY")["gap_open"]  # screened 2025-12-31
    died = one(open_period, "cms125", "BCS_DIED_2026")
    assert died["in_denominator"] and not died["in_numerator"] and not died["gap_open"]


@pytest.mark.parametrize(
    "pid",
    [
        "COL_COLONOSCOPY_FIRST_DAY",
        "COL_COLONOSCOPY_EHR_PCS",
        "COL_FIT_FIRST_DAY",
        "COL_FIT_CLAIM",
        "COL_FITDNA_FIRST_DAY",
        "COL_SIGMOIDOSCOPY_FIRST_DAY",
        "COL_CT_COLONOGRAPHY",
    ],
)
def test_colorectal_screening_inside_each_lookback(closed, pid):
    row = one(closed, "cms130", pid)
    assert row["in_denominator"] and row["in_numerator"], row["evidence"]


@pytest.mark.parametrize(
    "pid",
    [
        "COL_COLONOSCOPY_DAY_BEFORE",
        "COL_FIT_DAY_BEFORE",
        "COL_FITDNA_DAY_BEFORE",
        "COL_SIGMOIDOSCOPY_DAY_BEFORE",
        "COL_NONE",
    ],
)
def test_colorectal_screening_outside_each_lookback(closed, pid):
    row = one(closed, "cms130", pid)
    assert row["in_denominator"] and not row["in_numerator"]


def test_colorectal_evidence_names_the_test_or_what_is_missing(closed):
    assert one(closed, "cms130", "COL_COLONOSCOPY_FIRST_DAY")["evidence"] == (
        "colonoscopy (45378) on 2016-01-01"
    )
    assert one(closed, "cms130", "COL_NONE")["evidence"] == (
        "no colorectal screening: no colonoscopy since 2016-01-01, no FOBT/FIT since 2025-01-01"
    )


def test_colorectal_age_is_46_to_75_at_period_end(closed):
    assert ("cms130", "COL_AGE_45") not in closed
    assert one(closed, "cms130", "COL_AGE_46")["in_denominator"]
    assert one(closed, "cms130", "COL_AGE_75")["in_denominator"]
    assert ("cms130", "COL_AGE_76") not in closed


@pytest.mark.parametrize(
    ("pid", "reason"),
    [("COL_CANCER", "colorectal_cancer"), ("COL_COLECTOMY", "total_colectomy")],
)
def test_colorectal_exclusions_any_time_before_period_end(closed, pid, reason):
    row = one(closed, "cms130", pid)
    assert row["excluded"] and row["exclusion_reason"] == reason
