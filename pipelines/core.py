"""Core layer: the clinical model every mart reads, built from ``staging`` by ``sql/core/*.sql``.

One SQL file per table (``sql/core/<name>.sql``); this module knows the build order, what each
table reads, and the summary numbers a run reports about it. Summary numbers are counts and rates
only: never a person, claim or encounter identifier (they end up in Dagster's run database).
docs/core-model.md documents every table's grain, columns and rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

import measures
from pipelines.sql import run_sql

VALUE_SETS_DIR = Path(measures.__file__).resolve().parent / "value_sets"
LAB_ANALYTES_CSV = VALUE_SETS_DIR / "lab_analytes.csv"


@dataclass(frozen=True)
class CoreTable:
    name: str
    description: str
    staging: tuple[str, ...]  # staging tables the SQL reads
    core: tuple[str, ...] = ()  # core tables the SQL reads (built before this one)
    view: bool = False  # the SQL file creates a view, not a table


# In build order: every table's core inputs come before it.
CORE_TABLES: tuple[CoreTable, ...] = (
    CoreTable(
        "medical_claim_adjudication",
        "Every medical claim line received, with its adjudication outcome (final, replaced, "
        "voided, reversed, superseded or denied).",
        ("medical_claim",),
    ),
    CoreTable(
        "medical_claim_final",
        "Final medical claim lines: adjustments, voids and reversals resolved, denied lines out "
        "(a view: staging lines joined to their outcome, so the widest table is not copied).",
        ("medical_claim",),
        ("medical_claim_adjudication",),
        view=True,
    ),
    CoreTable(
        "person",
        "One row per person: demographics, death, current payer and where the person was seen.",
        ("eligibility", "patient", "registry"),
        ("medical_claim_final",),
    ),
    CoreTable(
        "enrollment",
        "Coverage spans per person and payer type, merged when contiguous, with member months.",
        ("eligibility",),
    ),
    CoreTable(
        "member_months",
        "One row per person and calendar month enrolled on any day of the month.",
        ("eligibility",),
    ),
    CoreTable(
        "inpatient_stay_claim",
        "Which acute inpatient stay each acute inpatient claim (bill type 11x) belongs to.",
        (),
        ("medical_claim_final",),
    ),
    CoreTable(
        "inpatient_stay",
        "Acute inpatient stays from claims and the EHR, with transfers chained.",
        ("encounter",),
        ("inpatient_stay_claim", "medical_claim_final"),
    ),
    CoreTable(
        "encounter_link",
        "Which encounter each final claim and each EHR encounter belongs to, and its type.",
        ("encounter",),
        ("medical_claim_final", "inpatient_stay_claim", "inpatient_stay"),
    ),
    CoreTable(
        "encounter",
        "Claims and EHR encounters unified: one row per visit or stay, typed.",
        ("encounter",),
        ("encounter_link", "inpatient_stay", "medical_claim_final"),
    ),
    CoreTable(
        "diagnosis",
        "Diagnoses in long format from claims and EHR conditions, with code system and position.",
        ("condition",),
        ("medical_claim_final", "encounter_link"),
    ),
    CoreTable(
        "procedure",
        "Procedures in long format: ICD-10-PCS and CPT/HCPCS from claims, EHR procedures.",
        ("procedure",),
        ("medical_claim_final", "encounter_link"),
    ),
    CoreTable(
        "lab",
        "Laboratory results with LOINC, a numeric value, a normalised unit and an analyte label.",
        ("lab_result",),
        ("encounter_link",),
    ),
    CoreTable(
        "vital",
        "Vital signs from EHR observations plus blood-pressure bands from CPT II codes on claims.",
        ("observation",),
        ("medical_claim_final", "encounter_link"),
    ),
    CoreTable(
        "pharmacy_fill",
        "Final pharmacy fills (reversals netted) plus EHR medications coded with NDC or RxNorm.",
        ("pharmacy_claim", "medication"),
    ),
)
CORE_TABLE: dict[str, CoreTable] = {t.name: t for t in CORE_TABLES}

# Summary numbers per table: named scalar queries over the built table. Counts and rates only.
_STATS: dict[str, dict[str, str]] = {
    "medical_claim_adjudication": {
        f"lines_{status}": (
            "select count(*) from core.medical_claim_adjudication "
            f"where adjudication_status = '{status}'"
        )
        for status in (
            "final",
            "replaced",
            "voided",
            "reversed",
            "reversal",
            "superseded",
            "denied",
        )
    },
    "medical_claim_final": {
        "claims": "select count(distinct claim_id) from core.medical_claim_final",
        "persons": "select count(distinct person_id) from core.medical_claim_final",
    },
    "person": {
        "in_eligibility": "select count(*) filter (where in_eligibility) from core.person",
        "in_patient": "select count(*) filter (where in_patient) from core.person",
        "in_both": "select count(*) filter (where in_eligibility and in_patient) from core.person",
        "deceased_share": "select avg(case when is_deceased then 1.0 else 0.0 end) from core.person",
    },
    "enrollment": {
        "persons": "select count(distinct person_id) from core.enrollment",
        "member_months": "select sum(member_months) from core.enrollment",
    },
    "member_months": {
        "persons": "select count(distinct person_id) from core.member_months",
        "dual_share": (
            "select avg(case when dual_status_code in ('01','02','03','04','05','06','08') "
            "then 1.0 else 0.0 end) from core.member_months"
        ),
    },
    "inpatient_stay_claim": {
        "stays": "select count(distinct stay_id) from core.inpatient_stay_claim",
    },
    "inpatient_stay": {
        "from_claims": "select count(*) filter (where source = 'medical_claim') "
        "from core.inpatient_stay",
        "from_ehr_only": "select count(*) filter (where source = 'encounter') "
        "from core.inpatient_stay",
        "transfer_out_share": (
            "select avg(case when is_transfer_out then 1.0 else 0.0 end) from core.inpatient_stay"
        ),
        "mean_length_of_stay": "select avg(length_of_stay) from core.inpatient_stay",
    },
    "encounter_link": {
        "claims": "select count(*) filter (where source = 'medical_claim') from core.encounter_link",
        "ehr_encounters": "select count(*) filter (where source = 'encounter') "
        "from core.encounter_link",
    },
    "encounter": {
        f"type_{kind}": f"select count(*) from core.encounter where encounter_type = '{kind}'"
        for kind in (
            "acute_inpatient",
            "observation",
            "emergency_department",
            "snf",
            "home_health",
            "hospice",
            "office",
            "telehealth",
            "other",
        )
    },
    "diagnosis": {
        "from_claims": "select count(*) filter (where source = 'medical_claim') from core.diagnosis",
        "from_conditions": "select count(*) filter (where source = 'condition') "
        "from core.diagnosis",
        "icd10cm_share": "select avg(case when code_system = 'icd-10-cm' then 1.0 else 0.0 end) "
        "from core.diagnosis",
    },
    "procedure": {
        "from_claims": "select count(*) filter (where source = 'medical_claim') from core.procedure",
        "from_ehr": "select count(*) filter (where source = 'procedure') from core.procedure",
    },
    "lab": {
        "with_analyte": "select count(*) filter (where analyte is not null) from core.lab",
        "numeric_share": "select avg(case when value_numeric is not null then 1.0 else 0.0 end) "
        "from core.lab",
    },
    "vital": {
        "blood_pressure_readings": "select count(*) filter (where kind in "
        "('systolic_bp', 'diastolic_bp')) from core.vital",
        "blood_pressure_bands": "select count(*) filter (where kind in "
        "('systolic_bp_band', 'diastolic_bp_band')) from core.vital",
    },
    "pharmacy_fill": {
        "from_claims": "select count(*) filter (where source = 'pharmacy_claim') "
        "from core.pharmacy_fill",
        "from_ehr": "select count(*) filter (where source = 'medication') from core.pharmacy_fill",
        "claim_lines_received": "select count(*) from staging.pharmacy_claim",
    },
}


def core_params(as_of: date) -> dict[str, object]:
    """The values the core SQL files may bind (each statement takes only the ones it names)."""
    return {"as_of": as_of, "lab_analytes_csv": str(LAB_ANALYTES_CSV)}


def table_stats(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, int | float]:
    """Row count and summary numbers of ``core.<name>`` (counts and rates, no identifiers)."""
    (rows,) = con.execute(f"select count(*) from core.{name}").fetchall()[0]
    stats: dict[str, int | float] = {"rows": int(rows)}
    for key, sql in _STATS.get(name, {}).items():
        (value,) = con.execute(sql).fetchall()[0]
        if value is None:
            stats[key] = 0
        elif isinstance(value, int):
            stats[key] = value
        else:
            stats[key] = round(float(value), 4)
    return stats


def _drop_if_kind_changed(con: duckdb.DuckDBPyConnection, table: CoreTable) -> None:
    """A warehouse built by an earlier version may hold a table where a view is now built (or the
    reverse); ``create or replace`` cannot change the kind, so drop the old object first."""
    found = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'core' and table_name = $name",
        {"name": table.name},
    ).fetchall()
    if found and (found[0][0] == "VIEW") != table.view:
        kind = "view" if found[0][0] == "VIEW" else "table"
        con.execute(f"drop {kind} core.{table.name}")


def build_core_table(
    con: duckdb.DuckDBPyConnection, name: str, as_of: date
) -> dict[str, int | float]:
    """Run ``sql/core/<name>.sql`` (replacing ``core.<name>``) and return its summary numbers."""
    if name not in CORE_TABLE:
        raise KeyError(f"unknown core table {name!r}; known: {', '.join(CORE_TABLE)}")
    con.execute("create schema if not exists core")
    _drop_if_kind_changed(con, CORE_TABLE[name])
    run_sql(con, f"core/{name}", params=core_params(as_of)).fetchall()
    return table_stats(con, name)


def build_core(
    con: duckdb.DuckDBPyConnection, as_of: date, names: Iterable[str] | None = None
) -> dict[str, dict[str, int | float]]:
    """Build every core table in order (or only ``names``, still in order); summary per table."""
    wanted = set(names) if names is not None else set(CORE_TABLE)
    return {t.name: build_core_table(con, t.name, as_of) for t in CORE_TABLES if t.name in wanted}
