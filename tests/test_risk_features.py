"""Risk features on hand-built patients: correctness, the anchors, and no reading past the cutoff."""

from datetime import date

import duckdb
import polars as pl
import pytest

from models.features import (
    DISPLAY_COLUMNS,
    FEATURE_NAMES,
    FEATURES,
    build_feature_frame,
    charlson_for_codes,
    hcc_raw_score,
)
from models.labels import ACUTE_USE_180D, build_labels
from pipelines.core import build_core
from pipelines.sql import read_sql
from tests.core_fixtures import make_staging

AS_OF = date(2026, 3, 31)
SCORING = date(2025, 6, 30)


def eligibility(person, start, end, payer_type, gender, birth, **kw):
    row = {
        "person_id": person,
        "gender": gender,
        "birth_date": birth,
        "enrollment_start_date": start,
        "enrollment_end_date": end,
        "payer": payer_type.upper(),
        "payer_type": payer_type,
        "race": "white",
    }
    row.update(kw)
    return row


def ed_visit(claim_id, person, day, dx="R079"):
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": person,
        "bill_type_code": "131",
        "facility_npi": "1234567893",
        "claim_start_date": day,
        "claim_end_date": day,
        "revenue_center_code": "0450",
        "hcpcs_code": "99283",
        "diagnosis_code_1": dx,
        "paid_amount": 400,
        "allowed_amount": 500,
        "charge_amount": 1200,
    }


def stay(claim_id, person, admit, discharge, dx, admit_type="1"):
    row = {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": person,
        "bill_type_code": "111",
        "facility_npi": "1234567893",
        "claim_start_date": admit,
        "claim_end_date": discharge,
        "admission_date": admit,
        "discharge_date": discharge,
        "admit_type_code": admit_type,
        "discharge_disposition_code": "01",
        "revenue_center_code": "0120",
        "paid_amount": 9000,
        "allowed_amount": 10000,
        "charge_amount": 30000,
    }
    for position, code in enumerate(dx, start=1):
        row[f"diagnosis_code_{position}"] = code
    return row


def hba1c(lab_id, person, day, value):
    return {
        "lab_result_id": lab_id,
        "person_id": person,
        "normalized_component_type": "loinc",
        "normalized_component_code": "4548-4",
        "status": "final",
        "result": value,
        "collection_datetime": f"{day} 09:00:00",
        "normalized_units": "%",
    }


def bp(obs_id, person, day, loinc, value, panel):
    return {
        "observation_id": obs_id,
        "person_id": person,
        "panel_id": panel,
        "observation_date": day,
        "normalized_code_type": "loinc",
        "normalized_code": loinc,
        "result": value,
        "normalized_units": "mm[Hg]",
    }


def fill(claim_id, person, day, days_supply=30, ndc="00093104801"):
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "person_id": person,
        "dispensing_date": day,
        "ndc_code": ndc,
        "quantity": 60,
        "days_supply": days_supply,
        "paid_amount": 10,
        "allowed_amount": 12,
        "charge_amount": 20,
    }


# Rows dated after the scoring date: the leakage test removes them and expects the same features.
AFTER_CUTOFF = {
    "medical_claim": [
        ed_visit("ED9", "P1", "2025-08-01"),
        stay("IP9", "P1", "2025-09-01", "2025-09-03", ["J441"]),
    ],
    "lab_result": [hba1c("L9", "P1", "2025-07-15", "6.0")],
    "observation": [bp("O9", "P1", "2025-07-10", "8480-6", "180", "B9")],
    "pharmacy_claim": [fill("RX9", "P1", "2025-07-05")],
    "registry": [
        {"person_id": "P1", "program": "transitions_of_care", "enrolled_date": "2025-07-01"}
    ],
}


def tables(with_after_cutoff: bool) -> dict[str, list[dict]]:
    base = {
        "eligibility": [
            eligibility(
                "P1",
                "2023-01-01",
                "2026-12-31",
                "medicare",
                "female",
                "1950-03-15",
                dual_status_code="02",
                original_reason_entitlement_code="0",
            ),
            eligibility("P2", "2024-01-01", "2026-12-31", "commercial", "male", "1990-01-01"),
            # Dead before the scoring date: never scored.
            eligibility(
                "P3",
                "2023-01-01",
                "2025-05-01",
                "medicare",
                "male",
                "1940-01-01",
                death_date="2025-05-01",
            ),
            # Coverage ended before the scoring date: not scored.
            eligibility("P4", "2023-01-01", "2025-03-31", "medicaid", "female", "1985-06-01"),
        ],
        "medical_claim": [
            ed_visit("ED1", "P1", "2024-09-01"),
            ed_visit("ED2", "P1", "2025-03-01"),
            ed_visit("ED3", "P1", "2025-05-10"),
            stay("IP1", "P1", "2025-06-01", "2025-06-05", ["I5022", "E1122", "N184", "J449"]),
        ],
        "lab_result": [hba1c("L1", "P1", "2025-04-01", "10.2")],
        "observation": [
            bp("O1", "P1", "2025-05-20", "8480-6", "150", "B1"),
            bp("O2", "P1", "2025-05-20", "8462-4", "95", "B1"),
            bp("O3", "P1", "2025-05-20", "8480-6", "135", "B2"),
            bp("O4", "P1", "2025-05-20", "8462-4", "85", "B2"),
        ],
        "pharmacy_claim": [
            fill("RX1", "P1", "2025-01-01"),
            fill("RX2", "P1", "2025-02-15"),
            fill("RX3", "P1", "2025-04-01"),
        ],
        "registry": [
            {
                "person_id": "P1",
                "program": "complex_care",
                "enrolled_date": "2025-01-01",
                "housing_instability": True,
                "food_insecurity": False,
            },
        ],
    }
    if with_after_cutoff:
        for name, rows in AFTER_CUTOFF.items():
            base[name] = base.get(name, []) + rows
    return base


def features_for(with_after_cutoff: bool) -> pl.DataFrame:
    con = duckdb.connect()
    make_staging(con, **tables(with_after_cutoff))
    build_core(con, AS_OF)
    frame = build_feature_frame(con, [SCORING], schema="risk_test")
    con.close()
    return frame


@pytest.fixture(scope="module")
def full() -> pl.DataFrame:
    return features_for(True)


def row(frame: pl.DataFrame, person: str) -> dict:
    rows = frame.filter(pl.col("person_id") == person).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_hcc_v28_anchor_matches_the_reference():
    # reference/risk.md section 6.1: female 72, community non-dual aged.
    score, count = hcc_raw_score(72, "F", "NA", "0", ("E1122", "I5022", "J449", "N184"))
    assert round(score, 3) == 2.120
    assert count == 4


def test_charlson_anchors_match_the_reference():
    # reference/risk.md section 6.2 (Quan): pycomorb agrees with comorbidipy.
    assert charlson_for_codes(["I500", "E112", "C787"]) == 9
    assert charlson_for_codes(["J449"]) == 1


def test_feature_list_matches_the_sql_and_every_group_renders():
    from models.explain import RENDERERS

    sql = read_sql("marts/risk_features")
    for name in FEATURE_NAMES:
        assert f" as {name}" in sql or f".{name},\n" in sql or f".{name}\n" in sql, name
    for name in DISPLAY_COLUMNS:
        assert name in sql, name
    assert {f.group for f in FEATURES} == set(RENDERERS)


def test_population_is_alive_and_enrolled_at_the_scoring_date(full):
    assert sorted(full["person_id"].to_list()) == ["P1", "P2"]


def test_prior_use_and_days_since_discharge(full):
    p1 = row(full, "P1")
    assert (p1["ed_visits_6m"], p1["ed_visits_12m"]) == (2, 3)
    assert (p1["ip_admits_6m"], p1["ip_admits_12m"], p1["ip_days_12m"]) == (1, 1, 4)
    assert p1["prior_acute_use_12m"] == 4
    assert p1["last_discharge_date"] == date(2025, 6, 5)
    assert p1["days_since_last_discharge"] == 25
    assert p1["no_discharge_12m"] == 0


def test_lace_components_of_the_last_stay(full):
    p1 = row(full, "P1")
    assert p1["lace_length_points"] == 4  # 4 days -> 4 (van Walraven: 4-6 days)
    assert p1["lace_acute_points"] == 3  # emergency admission
    assert p1["lace_ed_points"] == 2  # ED visits in the 6 months before admission (not 2024-09-01)
    charlson = charlson_for_codes(["I5022", "E1122", "N184", "J449", "R079"])
    assert p1["charlson_index"] == charlson
    assert p1["lace_comorbidity_points"] == (5 if charlson >= 4 else charlson)
    assert p1["lace_total"] == 4 + 3 + 2 + p1["lace_comorbidity_points"]


def test_conditions_and_morbidity_scores(full):
    p1 = row(full, "P1")
    for name in ("cc_heart_failure", "cc_diabetes", "cc_chronic_kidney_disease", "cc_copd"):
        assert p1[name] == 1, name
    assert p1["cc_hypertension"] == 0
    assert p1["chronic_condition_count"] == 4
    expected, count = hcc_raw_score(75, "F", "02", "0", ("E1122", "I5022", "J449", "N184"))
    assert p1["hcc_raw_v28"] == pytest.approx(expected)
    assert p1["hcc_count"] == count
    assert p1["dual_full"] == 1 and p1["payer_medicare"] == 1 and p1["female"] == 1
    assert p1["age"] == 75


def test_last_hba1c_and_blood_pressure(full):
    p1 = row(full, "P1")
    assert p1["hba1c_value"] == pytest.approx(10.2)
    assert p1["hba1c_value_date"] == date(2025, 4, 1)
    assert (p1["hba1c_poor"], p1["hba1c_controlled"], p1["hba1c_missing"]) == (1, 0, 0)
    # CMS165: the lowest systolic and the lowest diastolic of the last day -> 135/85, controlled.
    assert (p1["systolic_bp"], p1["diastolic_bp"]) == (135, 85)
    assert (p1["bp_controlled"], p1["bp_missing"]) == (1, 0)


def test_adherence_polypharmacy_registry(full):
    p1 = row(full, "P1")
    # 2025-01-01 .. 2025-06-30 is 181 days; three 30-day fills cover 90 of them.
    assert p1["pdc_min"] == pytest.approx(90 / 181)
    assert (p1["pdc_below_80"], p1["pdc_missing"], p1["adherence_drug_count"]) == (1, 0, 1)
    assert p1["distinct_drugs_6m"] == 1 and p1["polypharmacy"] == 0
    assert (p1["sdoh_housing"], p1["sdoh_food"], p1["sdoh_transport"]) == (1, 0, None)
    assert (p1["sdoh_flag_count"], p1["sdoh_not_screened"]) == (1, 0)
    assert (p1["program_complex_care"], p1["program_transitions_of_care"]) == (1, 0)


def test_a_person_without_events_gets_zeros_and_missing_indicators(full):
    p2 = row(full, "P2")
    for name in ("ed_visits_12m", "ip_admits_12m", "obs_stays_12m", "chronic_condition_count"):
        assert p2[name] == 0, name
    for name in ("hba1c_missing", "bp_missing", "pdc_missing", "sdoh_not_screened"):
        assert p2[name] == 1, name
    assert (p2["no_discharge_12m"], p2["no_encounter_12m"]) == (1, 1)
    assert p2["lace_total"] is None and p2["days_since_last_discharge"] is None
    assert p2["hcc_raw_v28"] == pytest.approx(hcc_raw_score(35, "M", "NA", "0", ())[0])


def test_no_feature_reads_an_event_after_the_scoring_date(full):
    # The same patients without any row dated after the scoring date: identical features.
    without = features_for(False)
    columns = [c for c in full.columns if c != "open_care_gaps"]
    assert full.select(columns).equals(without.select(columns))


def test_label_counts_unplanned_events_in_the_horizon():
    con = duckdb.connect()
    make_staging(con, **tables(True))
    build_core(con, AS_OF)
    build_feature_frame(con, [SCORING], schema="risk_test")
    labels, rule = build_labels(con, "risk_test", ACUTE_USE_180D)
    con.close()
    assert rule == "popcare_simple_rule"
    p1 = labels.filter(pl.col("person_id") == "P1").to_dicts()[0]
    assert (p1["label"], p1["acute_events"], p1["unplanned_admissions"]) == (1, 2, 1)
    assert p1["first_event_date"] == date(2025, 8, 1)
    p2 = labels.filter(pl.col("person_id") == "P2").to_dicts()[0]
    assert p2["label"] == 0
