"""CMS122 (HbA1c > 9% or missing), KED (kidney health evaluation) and SPD (statin therapy):
one hand-built person per rule boundary. Measurement period 2025, as-of 2026-09-30."""

from datetime import date

import pytest

from tests.test_measures_support import (
    INSULIN,
    METFORMIN,
    STATIN,
    Population,
    one,
    run,
)

MEASURES = ["cms122", "ked", "spd"]
HBA1C = "4548-4"


def glycemic(pop: Population) -> None:
    def diabetic(pid, birth="1965-06-01"):
        pop.person(pid, birth)
        pop.visit(pid, "2025-02-01", "E119")
        return pid

    pop.lab(diabetic("A1C_ABOVE_9"), "2025-05-01", HBA1C, "9.1", "%")
    pop.lab(diabetic("A1C_EXACTLY_9"), "2025-05-01", HBA1C, "9.0", "%")
    pop.lab(diabetic("A1C_GREATER_THAN_9"), "2025-05-01", HBA1C, ">9", "%")
    pop.lab(diabetic("A1C_AT_LEAST_9"), "2025-05-01", HBA1C, ">=9", "%")
    diabetic("A1C_LATEST_COUNTS")
    pop.lab("A1C_LATEST_COUNTS", "2025-03-01", HBA1C, "10.0", "%")
    pop.lab("A1C_LATEST_COUNTS", "2025-06-01", HBA1C, "7.0", "%")
    diabetic("A1C_SAME_DAY_LOWEST")
    pop.lab("A1C_SAME_DAY_LOWEST", "2025-06-01", HBA1C, "9.5", "%")
    pop.lab("A1C_SAME_DAY_LOWEST", "2025-06-01", HBA1C, "8.5", "%")
    diabetic("A1C_MISSING")
    pop.lab(diabetic("A1C_ONLY_LAST_YEAR"), "2024-12-31", HBA1C, "7.0", "%")
    pop.claim(diabetic("A1C_CPT2_ABOVE_9"), "2025-04-01", ("99214", "3046F"), ("E119",))
    pop.claim(diabetic("A1C_CPT2_8_TO_9"), "2025-04-01", ("99214", "3052F"), ("E119",))
    diabetic("A1C_GMI_LATEST")
    pop.lab("A1C_GMI_LATEST", "2025-02-01", HBA1C, "7.0", "%")
    pop.lab("A1C_GMI_LATEST", "2025-09-01", "97506-0", "9.4", "%")
    # Diabetes only on the EHR problem list (SNOMED CT), recorded years before.
    pop.person("A1C_PROBLEM_LIST", "1965-06-01")
    pop.condition("A1C_PROBLEM_LIST", "44054006", "snomed-ct", "2019-01-01")
    pop.visit("A1C_PROBLEM_LIST", "2025-02-01")
    pop.lab("A1C_PROBLEM_LIST", "2025-03-01", HBA1C, "6.5", "%")
    diabetic("A1C_AGE_76", birth="1949-12-31")
    diabetic("A1C_AGE_75", birth="1950-01-01")
    pop.hospice(diabetic("A1C_HOSPICE"), "2025-10-01", "2025-10-09")


def kidney(pop: Population) -> None:
    def diabetic(pid, birth="1965-06-01", **kw):
        pop.person(pid, birth, **kw)
        pop.visit(pid, "2024-06-01", "E119")
        pop.visit(pid, "2025-02-01", "E119")
        return pid

    def egfr(pid, day="2025-03-01"):
        pop.lab(pid, day, "98979-8", "72", "mL/min/1.73m2")

    egfr(diabetic("KED_BOTH"))
    pop.lab("KED_BOTH", "2025-03-01", "9318-7", "12", "mg/g")
    egfr(diabetic("KED_EGFR_ONLY"))
    egfr(diabetic("KED_PAIR_4_DAYS"))
    pop.claim("KED_PAIR_4_DAYS", "2025-05-01", ("82043",), pos="81")
    pop.claim("KED_PAIR_4_DAYS", "2025-05-05", ("82570",), pos="81")
    egfr(diabetic("KED_PAIR_5_DAYS"))
    pop.claim("KED_PAIR_5_DAYS", "2025-05-01", ("82043",), pos="81")
    pop.claim("KED_PAIR_5_DAYS", "2025-05-06", ("82570",), pos="81")
    diabetic("KED_EGFR_BY_CLAIM")
    pop.claim("KED_EGFR_BY_CLAIM", "2025-05-01", ("80048",), pos="81")
    pop.lab("KED_EGFR_BY_CLAIM", "2025-05-01", "9318-7", "40", "mg/g")
    # HEDIS diabetes identification: two diagnosis dates, or one diagnosis plus a diabetes drug.
    pop.person("KED_ONE_DIAGNOSIS", "1965-06-01")
    pop.visit("KED_ONE_DIAGNOSIS", "2025-02-01", "E119")
    pop.person("KED_DIAGNOSIS_AND_DRUG", "1965-06-01")
    pop.visit("KED_DIAGNOSIS_AND_DRUG", "2025-02-01", "E119")
    pop.fill("KED_DIAGNOSIS_AND_DRUG", "2025-02-02", METFORMIN)
    pop.visit(diabetic("KED_ESRD"), "2025-03-01", "N186", "E1122")
    # Continuous enrolment: one gap of up to 45 days; enrolled on December 31.
    diabetic("KED_GAP_45", end="2025-03-31")
    pop.span("KED_GAP_45", "2025-05-16", "2026-09-30")
    diabetic("KED_GAP_46", end="2025-03-31")
    pop.span("KED_GAP_46", "2025-05-17", "2026-09-30")
    diabetic("KED_TWO_GAPS", end="2025-03-31")
    pop.span("KED_TWO_GAPS", "2025-04-11", "2025-07-31")
    pop.span("KED_TWO_GAPS", "2025-08-11", "2026-09-30")
    diabetic("KED_ENDS_DEC_30", end="2025-12-30")
    diabetic("KED_DIED", end="2025-08-01", death_date="2025-08-01")
    # 81 and older with frailty on two dates (HEDIS) is excluded; one date is not enough.
    diabetic("KED_81_FRAIL_TWICE", birth="1944-01-01")
    pop.claim("KED_81_FRAIL_TWICE", "2025-03-01", ("E0100",))
    pop.claim("KED_81_FRAIL_TWICE", "2025-04-01", ("E0100",))
    diabetic("KED_81_FRAIL_ONCE", birth="1944-01-01")
    pop.claim("KED_81_FRAIL_ONCE", "2025-03-01", ("E0100",))


def statins(pop: Population) -> None:
    def diabetic(pid, birth="1970-06-01"):
        pop.person(pid, birth)
        pop.visit(pid, "2024-06-01", "E119")
        pop.visit(pid, "2025-02-01", "E119")
        return pid

    pop.fill(diabetic("SPD_STATIN"), "2025-06-01", STATIN)
    diabetic("SPD_NO_STATIN")
    pop.fill("SPD_NO_STATIN", "2024-11-01", STATIN)  # last year's fill does not count
    diabetic("SPD_AGE_39", birth="1986-06-01")
    pop.visit(diabetic("SPD_MI_LAST_YEAR"), "2024-08-01", "I214")
    pop.visit(diabetic("SPD_IVD_THIS_YEAR_ONLY"), "2025-03-01", "I2510")
    diabetic("SPD_IVD_BOTH_YEARS")
    pop.visit("SPD_IVD_BOTH_YEARS", "2024-03-01", "I2510")
    pop.visit("SPD_IVD_BOTH_YEARS", "2025-03-01", "I2510")
    pop.visit(diabetic("SPD_MYALGIA"), "2025-03-01", "M7910")
    pop.visit(diabetic("SPD_CIRRHOSIS"), "2024-09-01", "K7469")
    pop.fill(diabetic("SPD_INSULIN_ONLY_DRUG"), "2025-01-10", INSULIN)


@pytest.fixture(scope="module")
def rows():
    pop = Population()
    glycemic(pop)
    kidney(pop)
    statins(pop)
    con = pop.build()
    yield run(con, MEASURES)
    con.close()


@pytest.fixture(scope="module")
def open_rows():
    pop = Population()
    glycemic(pop)
    pop.visit("A1C_MISSING", "2026-01-15", "E119")
    pop.visit("A1C_EXACTLY_9", "2026-01-15", "E119")
    pop.lab("A1C_EXACTLY_9", "2026-02-01", HBA1C, "6.8", "%")
    as_of = date(2026, 6, 30)
    con = pop.build(as_of)
    yield run(con, ["cms122"], (date(2026, 1, 1), date(2026, 12, 31)), as_of)
    con.close()


@pytest.mark.parametrize(
    ("pid", "poor"),
    [
        ("A1C_ABOVE_9", True),
        ("A1C_EXACTLY_9", False),  # > 9.0 is the threshold, 9.0 is not above it
        ("A1C_GREATER_THAN_9", True),  # '>9' reported with a comparator
        ("A1C_AT_LEAST_9", False),  # '>=9' may be 9.0
        ("A1C_LATEST_COUNTS", False),  # 10.0 in March, 7.0 in June
        ("A1C_SAME_DAY_LOWEST", False),  # 9.5 and 8.5 on one day: the lowest counts
        ("A1C_MISSING", True),  # not assessed counts as poor control
        ("A1C_ONLY_LAST_YEAR", True),  # a test before the period does not count
        ("A1C_CPT2_ABOVE_9", True),  # 3046F
        ("A1C_CPT2_8_TO_9", False),  # 3052F
        ("A1C_GMI_LATEST", True),  # a GMI is a glycemic status assessment too
        ("A1C_PROBLEM_LIST", False),
    ],
)
def test_glycemic_status_inverse_numerator(rows, pid, poor):
    row = one(rows, "cms122", pid)
    assert row["in_denominator"] and not row["excluded"]
    assert row["in_numerator"] is poor, row["evidence"]


def test_glycemic_evidence_shows_the_value_or_what_is_missing(rows):
    assert one(rows, "cms122", "A1C_ABOVE_9")["evidence"] == (
        "HbA1c/GMI 9.1% (4548-4) on 2025-05-01"
    )
    assert one(rows, "cms122", "A1C_CPT2_ABOVE_9")["evidence"] == (
        "HbA1c/GMI >9.0% (3046F) on 2025-04-01"
    )
    missing = one(rows, "cms122", "A1C_MISSING")
    assert missing["evidence"] == "no HbA1c or GMI since 2025-01-01"
    assert missing["last_event_date"] is None


def test_glycemic_age_and_diabetes_define_the_population(rows):
    assert ("cms122", "A1C_AGE_76") not in rows
    assert one(rows, "cms122", "A1C_AGE_75")["in_denominator"]
    assert ("cms122", "SPD_AGE_39") in rows  # a diabetic adult of any age 18-75


def test_glycemic_hospice_is_excluded(rows):
    row = one(rows, "cms122", "A1C_HOSPICE")
    assert row["excluded"] and row["exclusion_reason"] == "hospice"
    assert not row["in_numerator"]


def test_inverse_gap_is_open_when_poor_or_missing_and_the_period_still_runs(open_rows, rows):
    assert one(open_rows, "cms122", "A1C_MISSING")["gap_open"]
    assert not one(open_rows, "cms122", "A1C_EXACTLY_9")["gap_open"]  # 6.8% in 2026
    assert not one(rows, "cms122", "A1C_MISSING")["gap_open"]  # 2025 has closed


@pytest.mark.parametrize(
    ("pid", "done"),
    [
        ("KED_BOTH", True),
        ("KED_EGFR_ONLY", False),
        ("KED_PAIR_4_DAYS", True),  # urine albumin and creatinine four days apart
        ("KED_PAIR_5_DAYS", False),
        ("KED_EGFR_BY_CLAIM", True),  # a basic metabolic panel reports an eGFR
        ("KED_GAP_45", False),
        ("KED_81_FRAIL_ONCE", False),
    ],
)
def test_kidney_evaluation_needs_both_egfr_and_uacr(rows, pid, done):
    row = one(rows, "ked", pid)
    assert row["in_denominator"] and not row["excluded"]
    assert row["in_numerator"] is done, row["evidence"]


def test_kidney_evaluation_evidence_names_the_missing_test(rows):
    assert one(rows, "ked", "KED_EGFR_ONLY")["evidence"] == "no uACR since 2025-01-01"
    assert one(rows, "ked", "KED_PAIR_4_DAYS")["evidence"] == (
        "eGFR (98979-8) on 2025-03-01; urine albumin and creatinine on 2025-05-01 and 2025-05-05"
    )


def test_hedis_diabetes_needs_two_diagnosis_dates_or_a_diagnosis_and_a_drug(rows):
    assert ("ked", "KED_ONE_DIAGNOSIS") not in rows
    assert one(rows, "ked", "KED_DIAGNOSIS_AND_DRUG")["in_denominator"]


@pytest.mark.parametrize(
    ("pid", "enrolled"),
    [
        ("KED_GAP_45", True),
        ("KED_GAP_46", False),
        ("KED_TWO_GAPS", False),
        ("KED_ENDS_DEC_30", False),
    ],
)
def test_continuous_enrolment_allows_one_gap_of_45_days_and_needs_december_31(rows, pid, enrolled):
    assert one(rows, "ked", pid)["in_denominator"] is enrolled


def test_enrolment_evidence_says_how_long_the_gap_was(rows):
    assert one(rows, "ked", "KED_GAP_46")["evidence"] == (
        "enrolment gaps 1 (longest 46 days) between 2025-01-01 and 2025-12-31"
    )


@pytest.mark.parametrize(
    ("pid", "reason"),
    [
        ("KED_ESRD", "esrd_or_dialysis"),
        ("KED_81_FRAIL_TWICE", "frailty_81_plus"),
    ],
)
def test_kidney_evaluation_exclusions(rows, pid, reason):
    row = one(rows, "ked", pid)
    assert row["excluded"] and row["exclusion_reason"] == reason


def test_death_in_the_period_ends_enrolment_before_december_31(rows):
    # HEDIS excludes deaths in the period; popcare sees the death first as an enrolment end.
    row = one(rows, "ked", "KED_DIED")
    assert not row["in_denominator"] and not row["gap_open"]


@pytest.mark.parametrize(
    ("pid", "statin"),
    [("SPD_STATIN", True), ("SPD_NO_STATIN", False), ("SPD_IVD_THIS_YEAR_ONLY", False)],
)
def test_statin_dispensed_in_the_period(rows, pid, statin):
    row = one(rows, "spd", pid)
    assert row["in_denominator"] and not row["excluded"]
    assert row["in_numerator"] is statin


@pytest.mark.parametrize(
    ("pid", "reason"),
    [
        ("SPD_MI_LAST_YEAR", "ascvd"),
        ("SPD_IVD_BOTH_YEARS", "ascvd"),
        ("SPD_MYALGIA", "myalgia_myositis_myopathy_rhabdomyolysis"),
        ("SPD_CIRRHOSIS", "cirrhosis"),
    ],
)
def test_statin_therapy_exclusions(rows, pid, reason):
    row = one(rows, "spd", pid)
    assert row["excluded"] and row["exclusion_reason"] == reason


def test_statin_therapy_age_40_to_75(rows):
    assert ("spd", "SPD_AGE_39") not in rows
    assert one(rows, "spd", "SPD_INSULIN_ONLY_DRUG")["in_denominator"]
