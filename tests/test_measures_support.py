"""Builders for the hand-made measure fixtures (this module holds no tests).

``Population`` collects staging rows for many people, each built for one rule boundary; ``build``
turns them into staging and core tables, ``run`` runs the engine for some measures and returns
``marts.measure_patient`` keyed by (measure_id, person_id) (episode measures: a list of rows).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from itertools import count
from typing import Any

import duckdb

from pipelines.core import build_core
from pipelines.measures import build_measure_patient, build_measure_rates, load_measures
from pipelines.sql import quote_ident
from tests.core_fixtures import _columns, make_staging

AS_OF = date(2026, 9, 30)
PERIOD_2025 = (date(2025, 1, 1), date(2025, 12, 31))

# Codes used by the fixtures (public code numbers; see measures/value_sets).
OFFICE = "99213"
STATIN = "00071015523"
METFORMIN = "65841080901"
SITAGLIPTIN = "00006027731"
INSULIN = "00088222033"
LOSARTAN = "00006095254"
ENTRESTO = "00078065920"
DONEPEZIL = "62856024630"


class Population:
    """Staging rows for hand-built people."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._claims = count(1)

    def _claim_id(self, prefix: str = "C") -> str:
        return f"{prefix}{next(self._claims):05d}"

    def person(
        self,
        pid: str,
        birth: str,
        sex: str = "female",
        start: str = "2023-01-01",
        end: str = "2026-09-30",
        payer_type: str = "commercial",
        **kw: Any,
    ) -> str:
        self.tables["eligibility"].append(
            {
                "person_id": pid,
                "birth_date": birth,
                "gender": sex,
                "enrollment_start_date": start,
                "enrollment_end_date": end,
                "payer": f"{payer_type} plan",
                "payer_type": payer_type,
                "race": "white",
                "ethnicity": "not hispanic or latino",
                **kw,
            }
        )
        return pid

    def span(self, pid: str, start: str, end: str, **kw: Any) -> None:
        """An extra eligibility span for a person already added (copies their demographics)."""
        first = next(r for r in self.tables["eligibility"] if r["person_id"] == pid)
        self.tables["eligibility"].append(
            {**first, "enrollment_start_date": start, "enrollment_end_date": end, **kw}
        )

    def claim(
        self,
        pid: str,
        day: str,
        codes: tuple[str, ...] = (OFFICE,),
        dx: tuple[str, ...] = ("Z0000",),
        pos: str = "11",
        modifiers: dict[int, str] | None = None,
        procedure_codes: tuple[str, ...] = (),
    ) -> str:
        """A professional claim: one line per code, diagnoses on the header."""
        claim_id = self._claim_id()
        for line, code in enumerate(codes, start=1):
            quality = code.endswith("F")
            row: dict[str, Any] = {
                "claim_id": claim_id,
                "claim_line_number": line,
                "claim_type": "professional",
                "person_id": pid,
                "claim_start_date": day,
                "claim_end_date": day,
                "place_of_service_code": pos,
                "hcpcs_code": code,
                "paid_amount": 0 if quality else 80,
                "allowed_amount": 0 if quality else 100,
                "charge_amount": 0 if quality else 150,
                "diagnosis_code_type": "icd-10-cm",
            }
            for i, code_dx in enumerate(dx, start=1):
                row[f"diagnosis_code_{i}"] = code_dx
            for i, code_px in enumerate(procedure_codes, start=1):
                row[f"procedure_code_{i}"] = code_px
                row["procedure_code_type"] = "icd-10-pcs"
            if modifiers and line in modifiers:
                row["hcpcs_modifier_1"] = modifiers[line]
            self.tables["medical_claim"].append(row)
        return claim_id

    def visit(self, pid: str, day: str, *dx: str) -> str:
        """An office visit (99213 at POS 11) with diagnoses."""
        return self.claim(pid, day, (OFFICE,), dx or ("Z0000",))

    def institutional(
        self,
        pid: str,
        day: str,
        bill: str,
        revenue: str,
        hcpcs: str | None = None,
        end: str | None = None,
        dx1: str = "R079",
        **kw: Any,
    ) -> str:
        claim_id = self._claim_id("I")
        self.tables["medical_claim"].append(
            {
                "claim_id": claim_id,
                "claim_line_number": 1,
                "claim_type": "institutional",
                "person_id": pid,
                "bill_type_code": bill,
                "facility_npi": "1234567893",
                "claim_start_date": day,
                "claim_end_date": end or day,
                "revenue_center_code": revenue,
                "hcpcs_code": hcpcs,
                "diagnosis_code_type": "icd-10-cm",
                "diagnosis_code_1": dx1,
                "paid_amount": 500,
                "allowed_amount": 600,
                "charge_amount": 1500,
                **kw,
            }
        )
        return claim_id

    def ed_visit(self, pid: str, day: str, dx1: str = "R079") -> str:
        return self.institutional(pid, day, "131", "0450", "99283", dx1=dx1)

    def hospice(self, pid: str, start: str, end: str) -> str:
        return self.institutional(pid, start, "811", "0651", end=end, dx1="C3490")

    def stay(
        self,
        pid: str,
        admit: str,
        discharge: str,
        dx1: str,
        disposition: str = "01",
        facility: str = "1234567893",
    ) -> str:
        claim_id = self._claim_id("S")
        self.tables["medical_claim"].append(
            {
                "claim_id": claim_id,
                "claim_line_number": 1,
                "claim_type": "institutional",
                "person_id": pid,
                "bill_type_code": "111",
                "facility_npi": facility,
                "claim_start_date": admit,
                "claim_end_date": discharge,
                "admission_date": admit,
                "discharge_date": discharge,
                "discharge_disposition_code": disposition,
                "revenue_center_code": "0120",
                "diagnosis_code_type": "icd-10-cm",
                "diagnosis_code_1": dx1,
                "paid_amount": 9000,
                "allowed_amount": 10000,
                "charge_amount": 30000,
            }
        )
        return f"c:{claim_id}"

    def condition(
        self, pid: str, code: str, system: str = "icd-10-cm", recorded: str = "2020-05-01"
    ) -> None:
        self.tables["condition"].append(
            {
                "condition_id": f"CN{len(self.tables['condition']) + 1}",
                "person_id": pid,
                "recorded_date": recorded,
                "status": "active",
                "condition_type": "problem",
                "source_code_type": system,
                "source_code": code,
            }
        )

    def lab(self, pid: str, day: str, loinc: str, result: str, units: str | None = None) -> None:
        self.tables["lab_result"].append(
            {
                "lab_result_id": f"LR{len(self.tables['lab_result']) + 1}",
                "person_id": pid,
                "source_component_type": "loinc",
                "source_component_code": loinc,
                "result": result,
                "source_units": units,
                "status": "final",
                "collection_datetime": f"{day} 09:00:00",
                "result_datetime": f"{day} 15:00:00",
            }
        )

    def bp(self, pid: str, day: str, systolic: int, diastolic: int, encounter: str | None = None):
        for code, value in (("8480-6", systolic), ("8462-4", diastolic)):
            self.tables["observation"].append(
                {
                    "observation_id": f"OB{len(self.tables['observation']) + 1}",
                    "person_id": pid,
                    "encounter_id": encounter,
                    "observation_date": day,
                    "source_code_type": "loinc",
                    "source_code": code,
                    "result": str(value),
                    "source_units": "mm[Hg]",
                }
            )

    def encounter(
        self, pid: str, eid: str, kind: str, start: str, end: str | None = None, dx: str = "Z0000"
    ) -> None:
        self.tables["encounter"].append(
            {
                "encounter_id": eid,
                "person_id": pid,
                "encounter_type": kind,
                "encounter_start_date": start,
                "encounter_end_date": end or start,
                "primary_diagnosis_code_type": "icd-10-cm",
                "primary_diagnosis_code": dx,
            }
        )

    def procedure(self, pid: str, day: str, code: str, system: str) -> None:
        self.tables["procedure"].append(
            {
                "procedure_id": f"PX{len(self.tables['procedure']) + 1}",
                "person_id": pid,
                "procedure_date": day,
                "source_code_type": system,
                "source_code": code,
            }
        )

    def fill(self, pid: str, day: str, ndc: str, days: int = 30) -> None:
        self.tables["pharmacy_claim"].append(
            {
                "claim_id": f"RX{len(self.tables['pharmacy_claim']) + 1:05d}",
                "claim_line_number": 1,
                "person_id": pid,
                "dispensing_date": day,
                "ndc_code": ndc,
                "quantity": days,
                "days_supply": days,
                "paid_date": day,
                "paid_amount": 10,
                "allowed_amount": 12,
            }
        )

    def attribution(self, pid: str, year_month: str, practice: str) -> None:
        self.tables["provider_attribution"].append(
            {
                "person_id": pid,
                "year_month": year_month,
                "custom_attributed_provider_practice": practice,
            }
        )

    def build(self, as_of: date = AS_OF) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        stage(con, self.tables)
        build_core(con, as_of)
        return con


def stage(con: duckdb.DuckDBPyConnection, tables: dict[str, list[dict[str, Any]]]) -> None:
    """make_staging's tables, filled in one statement per table (lists unnested side by side)."""
    make_staging(con)
    for table, rows in tables.items():
        if not rows:
            continue
        columns = _columns(table)
        known = {name for name, _ in columns}
        for row in rows:
            unknown = set(row) - known
            assert not unknown, f"staging.{table} has no column(s) {sorted(unknown)}"
        values = {
            name: [None if row.get(name) is None else str(row[name]) for row in rows]
            for name, _ in columns
        }
        values["_source_file"] = [f"{table}.csv"] * len(rows)
        values["_row_number"] = [str(i) for i in range(1, len(rows) + 1)]
        selects = ", ".join(
            f"cast(unnest(cast(${i} as varchar[])) as {sql_type})"
            for i, (_, sql_type) in enumerate(columns, start=1)
        )
        names = ", ".join(quote_ident(name) for name, _ in columns)
        con.execute(
            f"insert into staging.{quote_ident(table)} ({names}) select {selects}",
            [values[name] for name, _ in columns],
        )


def run(
    con: duckdb.DuckDBPyConnection,
    measure_ids: list[str],
    period: tuple[date, date] = PERIOD_2025,
    as_of: date = AS_OF,
    rates: bool = False,
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Run the engine for the measures; rows of marts.measure_patient by (measure, person)."""
    chosen = [m for m in load_measures() if m.id in measure_ids]
    assert {m.id for m in chosen} == set(measure_ids)
    build_measure_patient(con, period[0], period[1], as_of, chosen)
    if rates:
        build_measure_rates(con, chosen)
    cursor = con.execute("select * from marts.measure_patient order by last_event_date")
    names = [d[0] for d in cursor.description]
    rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        rows[(row["measure_id"], row["person_id"])].append(row)
    return rows


def one(rows: dict[tuple[str, str], list[dict[str, Any]]], measure: str, pid: str) -> dict:
    """The single row of a person-level measure (fails if absent or repeated)."""
    found = rows.get((measure, pid), [])
    assert len(found) == 1, (measure, pid, found)
    return found[0]
