"""A hand-built population for the outreach tests (no tests here; imported by test_outreach_*).

As of Wednesday 2026-09-30. Every person has a purpose named in ``PURPOSE``; the staging rows go
through ``make_staging`` and ``build_core``, and marts.risk_scores / marts.measure_patient are
created directly with hand-made rows (their owners build them elsewhere).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from pipelines.core import build_core
from pipelines.outreach import UPSTREAM_COLUMNS, roster_from_mapping
from tests.core_fixtures import make_staging

AS_OF = date(2026, 9, 30)  # a Wednesday
FACILITY = "1234567893"
INJECTION_NAME = '=HYPERLINK("http://x","y")'

PURPOSE = {
    "00001": "transition: discharged home Tue 2026-09-29, no follow-up (group 1)",
    "00002": "transition: discharged home 14 days ago (boundary, group 1)",
    "00003": "discharged home 15 days ago: outside the window, tier low (no group)",
    "00004": "discharged home, office visit since: followed up, tier low (no group)",
    "00005": "discharged to a SNF (status 03): not a community discharge, tier low (no group)",
    "00010": "tier complex, score 0.90 (group 2)",
    "00011": "tier high, score 0.80 (group 2)",
    "00012": "tier high, score 0.80: tie with 00011, person id decides (group 2)",
    "00013": "tier complex, score 0.50: complex before high whatever the score (group 2)",
    "00020": "tier rising with a closable gap cms125 (group 3)",
    "00021": "tier rising, only a gap that cannot be closed now (fuh30): no group",
    "00022": "tier rising, gap of a closed period: no group",
    "00023": "tier low with a closable gap: no group",
    "00030": "deceased: eligibility death date",
    "00031": "deceased: EHR stay discharged with status 20 (expired)",
    "00032": "hospice: hospice claim overlapping the as-of date",
    "00033": "hospice ended 60 days ago but an office visit since: revoked, not suppressed",
    "00034": "hospice: eligibility hospice flag in the as-of month",
    "00035": "hospice: discharged to hospice (status 50), no care since",
    "00036": "not enrolled: coverage ended 2026-06-30",
    "00037": "EHR-only person (no eligibility): not suppressed for enrolment",
    "00038": "currently inpatient: EHR stay discharging after the as-of date",
    "00039": "currently inpatient: interim claim, status 30 (still a patient)",
    "00040": "opted out in the registry",
    "00041": "contacted 15 days ago: recently contacted",
    "00042": "contacted 30 days ago: recently contacted (boundary)",
    "00043": "contacted 31 days ago: not suppressed",
    "00044": "contacted 5 days ago, then discharged home 2 days ago: the discharge lifts it",
    "00045": "care manager CM9 (complex_care): routed to the manager",
    "00046": "care manager disenrolled 2026-09-01: not routed",
    "00047": "deceased and has a care manager: suppressed, not routed",
    "00050": "formula injection: a name, a phone starting with +, a tab in the last name",
    "00051": "attributed to PR02 in August; a later month after the as-of date is ignored",
}


def eligibility(pid: str, **kw: Any) -> dict[str, Any]:
    row = {
        "person_id": pid,
        "first_name": f"First{pid}",
        "last_name": f"Last{pid}",
        "gender": "female",
        "birth_date": "1950-01-01",
        "phone": f"61455{pid}",
        "payer": "medicare advantage",
        "payer_type": "medicare",
        "enrollment_start_date": "2026-01-01",
        "enrollment_end_date": "2026-12-31",
    }
    row.update(kw)
    return row


def stay_claim(claim_id: str, pid: str, admit: str, discharge: str, status: str = "01", **kw):
    row = {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": pid,
        "bill_type_code": "111",
        "facility_npi": FACILITY,
        "claim_start_date": admit,
        "claim_end_date": discharge,
        "admission_date": admit,
        "discharge_date": discharge,
        "discharge_disposition_code": status,
        "revenue_center_code": "0120",
        "paid_amount": 5000,
        "allowed_amount": 5000,
        "charge_amount": 9000,
    }
    row.update(kw)
    return row


def office_claim(claim_id: str, pid: str, day: str) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "professional",
        "person_id": pid,
        "place_of_service_code": "11",
        "hcpcs_code": "99213",
        "rendering_npi": "1000000012",
        "claim_start_date": day,
        "claim_end_date": day,
        "paid_amount": 80,
        "allowed_amount": 90,
        "charge_amount": 150,
    }


def hospice_claim(claim_id: str, pid: str, start: str, end: str) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "claim_line_number": 1,
        "claim_type": "institutional",
        "person_id": pid,
        "bill_type_code": "811",
        "facility_npi": "1999999992",
        "claim_start_date": start,
        "claim_end_date": end,
        "revenue_center_code": "0651",
        "paid_amount": 3000,
        "allowed_amount": 3000,
        "charge_amount": 3000,
    }


def staging_rows() -> dict[str, list[dict[str, Any]]]:
    plain = [pid for pid in PURPOSE if pid not in ("00030", "00034", "00036", "00037", "00047")]
    plain.remove("00050")
    people = [eligibility(pid) for pid in plain]
    people += [
        eligibility("00030", death_date="2026-08-01"),
        eligibility("00034", hospice_flag=1),
        eligibility("00036", enrollment_end_date="2026-06-30"),
        eligibility("00047", death_date="2026-09-10"),
        eligibility(
            "00050",
            first_name=INJECTION_NAME,
            last_name="\tTabbed",
            phone="+15550000050",
        ),
    ]
    claims = [
        stay_claim("S01", "00001", "2026-09-25", "2026-09-29"),
        stay_claim("S02", "00002", "2026-09-10", "2026-09-16"),
        stay_claim("S03", "00003", "2026-09-10", "2026-09-15"),
        stay_claim("S04", "00004", "2026-09-20", "2026-09-24"),
        office_claim("O04", "00004", "2026-09-28"),
        stay_claim("S05", "00005", "2026-09-20", "2026-09-24", status="03"),
        hospice_claim("H32", "00032", "2026-09-01", "2026-09-30"),
        hospice_claim("H33", "00033", "2026-07-01", "2026-08-01"),
        office_claim("O33", "00033", "2026-09-01"),
        stay_claim("S35", "00035", "2026-05-20", "2026-06-01", status="50"),
        stay_claim("S39", "00039", "2026-09-01", "2026-09-25", status="30", bill_type_code="112"),
        stay_claim("S44", "00044", "2026-09-26", "2026-09-28"),
    ]
    encounters = [
        {
            "encounter_id": "E31",
            "person_id": "00031",
            "encounter_type": "acute inpatient",
            "encounter_start_date": "2026-09-01",
            "encounter_end_date": "2026-09-05",
            "discharge_disposition_code": "20",
            "facility_npi": FACILITY,
        },
        {
            "encounter_id": "E38",
            "person_id": "00038",
            "encounter_type": "acute inpatient",
            "encounter_start_date": "2026-09-28",
            "encounter_end_date": "2026-10-03",
            "facility_npi": FACILITY,
        },
    ]
    patients = [
        {
            "person_id": "00037",
            "first_name": "Ehr",
            "last_name": "Only",
            "sex": "male",
            "birth_date": "1960-05-05",
            "phone": "6145500037",
        }
    ]
    registry = [
        {"person_id": "00040", "opted_out": True, "preferred_contact": "phone"},
        {
            "person_id": "00041",
            "last_outreach_date": "2026-09-15",
            "last_outreach_outcome": "reached",
        },
        {
            "person_id": "00042",
            "last_outreach_date": "2026-08-31",
            "last_outreach_outcome": "reached",
        },
        {
            "person_id": "00043",
            "last_outreach_date": "2026-08-30",
            "last_outreach_outcome": "left_voicemail",
        },
        {
            "person_id": "00044",
            "last_outreach_date": "2026-09-25",
            "last_outreach_outcome": "reached",
        },
        {
            "person_id": "00045",
            "program": "complex_care",
            "enrolled_date": "2026-01-15",
            "care_manager_id": "CM9",
            "opted_out": False,
            "preferred_language": "spanish",
            "preferred_contact": "text",
        },
        {
            "person_id": "00046",
            "program": "complex_care",
            "enrolled_date": "2026-01-15",
            "disenrolled_date": "2026-09-01",
            "care_manager_id": "CM9",
        },
        {
            "person_id": "00047",
            "program": "complex_care",
            "enrolled_date": "2026-01-15",
            "care_manager_id": "CM9",
        },
    ]
    attribution = [
        {
            "person_id": pid,
            "year_month": "202609",
            "payer_attributed_provider_practice": "PR01",
        }
        for pid in PURPOSE
        if pid != "00051"
    ]
    attribution += [
        {
            "person_id": "00051",
            "year_month": "202608",
            "custom_attributed_provider_practice": "PR02",
        },
        {
            "person_id": "00051",
            "year_month": "202610",
            "custom_attributed_provider_practice": "PR01",
        },
    ]
    return {
        "eligibility": people,
        "patient": patients,
        "medical_claim": claims,
        "encounter": encounters,
        "registry": registry,
        "provider_attribution": attribution,
    }


# Tier and score per person: everyone who tests a suppression rule is tier high, so they would
# be on the list (priority group 2) but for the rule.
RISK = {
    "00001": ("rising", 0.40),
    "00002": ("low", 0.10),
    "00003": ("low", 0.10),
    "00004": ("low", 0.10),
    "00005": ("low", 0.10),
    "00010": ("complex", 0.90),
    "00011": ("high", 0.80),
    "00012": ("high", 0.80),
    "00013": ("complex", 0.50),
    "00020": ("rising", 0.60),
    "00021": ("rising", 0.65),
    "00022": ("rising", 0.66),
    "00023": ("low", 0.20),
    "00044": ("low", 0.10),
    "00050": ("complex", 0.95),
    "00051": ("high", 0.70),
}
for _pid in PURPOSE:
    RISK.setdefault(_pid, ("high", 0.75))

GAPS = [
    ("00020", "cms125", "2026-01-01", "2026-12-31"),
    ("00021", "fuh30", "2026-01-01", "2026-12-31"),
    ("00022", "cms125", "2025-01-01", "2025-12-31"),
    ("00023", "cms130", "2026-01-01", "2026-12-31"),
    ("00010", "cms130", "2026-01-01", "2026-12-31"),
    ("00010", "ked", "2026-01-01", "2026-12-31"),
    ("00010", "edu", "2026-01-01", "2026-12-31"),
]


def create_marts(con: duckdb.DuckDBPyConnection, risk=None, gaps=None) -> None:
    """marts.risk_scores and marts.measure_patient with the documented columns, hand-made rows."""
    risk = RISK if risk is None else risk
    gaps = GAPS if gaps is None else gaps
    con.execute("create schema if not exists marts")
    for name, columns in UPSTREAM_COLUMNS.items():
        cols = ", ".join(f"{c} {t}" for c, t in columns)
        con.execute(f"create or replace table marts.{name} ({cols})")
    for pid, (tier, score) in sorted(risk.items()):
        con.execute(
            "insert into marts.risk_scores values (?, ?, 'test-1', ?, ?, ?, ?, ?, null)",
            [pid, AS_OF, score, score * 100, tier, "Two ED visits in 6 months", "HCC 85"],
        )
    # An older score that must not win over the latest.
    con.execute(
        "insert into marts.risk_scores values "
        "('00023', date '2026-06-30', 'test-0', 0.99, 99, 'complex', null, null, null)"
    )
    for pid, measure, start, end in gaps:
        con.execute(
            "insert into marts.measure_patient values "
            "(?, ?, ?, ?, true, false, null, false, true, null, null)",
            [measure, pid, start, end],
        )


def build_world(con: duckdb.DuckDBPyConnection, with_marts: bool = True) -> None:
    make_staging(con, **staging_rows())
    build_core(con, AS_OF)
    if with_marts:
        create_marts(con)


ROSTER = roster_from_mapping(
    {
        "default_team": "north",
        "care_management_team": "care_management",
        "teams": [
            {
                "id": "north",
                "practices": ["PR01"],
                "coordinators": [{"id": "CA", "capacity": 3}, {"id": "CB", "capacity": 2}],
            },
            {"id": "south", "practices": ["PR02"], "coordinators": [{"id": "CC", "capacity": 5}]},
        ],
    },
    source="test roster",
)
