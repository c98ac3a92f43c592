"""CMS165 controlling high blood pressure: one hand-built person per rule boundary.
Measurement period 2025, as-of 2026-09-30."""

import pytest

from tests.test_measures_support import Population, one, run


@pytest.fixture(scope="module")
def rows():
    pop = Population()

    def hypertensive(pid, birth="1960-06-01", dx_day="2025-03-01"):
        pop.person(pid, birth)
        pop.visit(pid, dx_day, "I10")
        return pid

    pop.bp(hypertensive("BP_139_89"), "2025-05-01", 139, 89)
    pop.bp(hypertensive("BP_140_80"), "2025-05-01", 140, 80)
    pop.bp(hypertensive("BP_130_90"), "2025-05-01", 130, 90)
    hypertensive("BP_LATEST_COUNTS")
    pop.bp("BP_LATEST_COUNTS", "2025-04-01", 120, 70)
    pop.bp("BP_LATEST_COUNTS", "2025-09-01", 150, 95)
    # Two readings on the latest day: the lowest systolic and the lowest diastolic.
    hypertensive("BP_SAME_DAY_LOWEST")
    pop.bp("BP_SAME_DAY_LOWEST", "2025-06-01", 150, 85)
    pop.bp("BP_SAME_DAY_LOWEST", "2025-06-01", 135, 95)
    # A reading taken during an inpatient stay does not count.
    hypertensive("BP_INPATIENT_IGNORED")
    pop.bp("BP_INPATIENT_IGNORED", "2025-04-01", 125, 75)
    pop.stay("BP_INPATIENT_IGNORED", "2025-11-10", "2025-11-15", "I5023")
    pop.bp("BP_INPATIENT_IGNORED", "2025-11-12", 170, 100)
    # ... nor one taken at an ED visit.
    hypertensive("BP_ED_IGNORED")
    pop.bp("BP_ED_IGNORED", "2025-04-01", 125, 75)
    pop.encounter("BP_ED_IGNORED", "E-ED-1", "emergency department", "2025-10-01")
    pop.bp("BP_ED_IGNORED", "2025-10-01", 182, 104, encounter="E-ED-1")
    # CPT II bands on claims.
    pop.claim(hypertensive("BP_BANDS_CONTROLLED"), "2025-07-01", ("99214", "3075F", "3079F"))
    pop.claim(hypertensive("BP_BANDS_HIGH"), "2025-07-01", ("99214", "3077F", "3078F"))
    hypertensive("BP_NONE")
    # Hypertension diagnosed by June 30 of the period (or before it) qualifies; later does not.
    pop.bp(hypertensive("BP_DX_JUNE_30", dx_day="2025-06-30"), "2025-08-01", 120, 70)
    pop.bp(hypertensive("BP_DX_JULY_1", dx_day="2025-07-01"), "2025-08-01", 120, 70)
    pop.person("BP_DX_LAST_YEAR", "1960-06-01")
    pop.visit("BP_DX_LAST_YEAR", "2024-03-01", "I10")
    pop.visit("BP_DX_LAST_YEAR", "2025-08-01")
    hypertensive("BP_AGE_85", birth="1940-01-01")
    hypertensive("BP_AGE_86", birth="1939-12-31")
    # Exclusions.
    pop.visit(hypertensive("BP_PREGNANT", birth="1995-06-01"), "2025-04-01", "Z3481")
    pop.visit(hypertensive("BP_ESRD"), "2019-04-01", "N186")
    pop.claim(hypertensive("BP_81_FRAIL", birth="1944-01-01"), "2025-03-01", ("E0100",))
    pop.claim(hypertensive("BP_80_FRAIL", birth="1945-06-01"), "2025-03-01", ("E0100",))
    con = pop.build()
    yield run(con, ["cms165"])
    con.close()


@pytest.mark.parametrize(
    ("pid", "controlled"),
    [
        ("BP_139_89", True),
        ("BP_140_80", False),  # systolic must be below 140
        ("BP_130_90", False),  # diastolic must be below 90
        ("BP_LATEST_COUNTS", False),
        ("BP_SAME_DAY_LOWEST", True),  # 135 and 85 from two readings of one day
        ("BP_INPATIENT_IGNORED", True),
        ("BP_ED_IGNORED", True),
        ("BP_BANDS_CONTROLLED", True),  # 3075F (130-139) and 3079F (80-89)
        ("BP_BANDS_HIGH", False),  # 3077F (>= 140)
        ("BP_NONE", False),
        ("BP_DX_JUNE_30", True),
        ("BP_DX_LAST_YEAR", False),
    ],
)
def test_most_recent_blood_pressure_below_140_90(rows, pid, controlled):
    row = one(rows, "cms165", pid)
    assert row["in_denominator"] and not row["excluded"]
    assert row["in_numerator"] is controlled, row["evidence"]


def test_blood_pressure_evidence(rows):
    assert one(rows, "cms165", "BP_SAME_DAY_LOWEST")["evidence"] == "BP 135/85 on 2025-06-01"
    assert one(rows, "cms165", "BP_BANDS_HIGH")["evidence"] == "BP >=140/<80 on 2025-07-01"
    assert one(rows, "cms165", "BP_NONE")["evidence"] == (
        "no blood pressure reading outside inpatient/ED care since 2025-01-01"
    )


def test_hypertension_must_start_by_june_30_and_age_is_18_to_85(rows):
    assert ("cms165", "BP_DX_JULY_1") not in rows
    assert one(rows, "cms165", "BP_AGE_85")["in_denominator"]
    assert ("cms165", "BP_AGE_86") not in rows


@pytest.mark.parametrize(
    ("pid", "reason"),
    [
        ("BP_PREGNANT", "pregnancy"),
        ("BP_ESRD", "esrd_dialysis_or_transplant"),
        ("BP_81_FRAIL", "frailty_81_plus"),
    ],
)
def test_controlling_bp_exclusions(rows, pid, reason):
    row = one(rows, "cms165", pid)
    assert row["excluded"] and row["exclusion_reason"] == reason


def test_frailty_alone_does_not_exclude_below_81(rows):
    assert not one(rows, "cms165", "BP_80_FRAIL")["excluded"]
