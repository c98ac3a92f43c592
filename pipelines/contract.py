"""The input contract: the tables popcare reads, their columns and types. One source of truth.

popcare reads the Tuva Project Input Layer (column names and types as in tuva-health/tuva
``models/input_layer/input_layer__<table>.yml``; recorded from the fork COG-GTM/tuva at commits
ccc668da and bd17277f, the newest complete copies available offline) plus popcare's own ``registry``
table. the tables of ``docs/input-contract.md`` are generated from this module (``popcare contract --update-doc``) and a
test keeps the two identical.

Deviations from Tuva's declared types, each because real extracts (and Tuva's own synthetic seeds)
carry values the declared type cannot hold:
- ``death_flag`` is an integer 0/1 in both ``eligibility`` and ``patient`` (Tuva: boolean / number).
- ``lab_result.source_abnormal_flag`` / ``normalized_abnormal_flag`` are text (H, L, A...).
- ``pharmacy_claim.quantity`` is numeric (liquids and inhalers dispense fractional quantities).
- ``encounter.length_of_stay``, ``condition.condition_rank`` and ``medication.days_supply`` are integers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Column types, written in the standard SQL names DuckDB, Spark and Trino share.
SQL_TYPES = {
    "s": "varchar",
    "d": "date",
    "ts": "timestamp",
    "i": "integer",
    "n": "decimal(18,2)",
    "f": "double",
    "b": "boolean",
}

# Stages that read a column, for the "which columns each stage relies on" part of the contract.
STAGES = ("core", "measures", "readmissions", "risk", "outreach")


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    required: bool = False
    used_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    source: str = "Tuva Input Layer"
    legacy_renames: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _expand(spec: str) -> list[tuple[str, str]]:
    """``name:type`` tokens; ``{prefix_1..25}:type`` expands to 25 numbered columns."""
    out: list[tuple[str, str]] = []
    for token in spec.split():
        name, kind = token.rsplit(":", 1)
        if name.startswith("{"):
            stem, rng = name.strip("{}").rsplit("_", 1)
            lo, hi = (int(x) for x in rng.split(".."))
            out.extend((f"{stem}_{i}", kind) for i in range(lo, hi + 1))
        else:
            out.append((name, kind))
    return out


def _table(
    name: str,
    description: str,
    grain: str,
    spec: str,
    required: Iterable[str],
    used_by: dict[str, str],
    source: str = "Tuva Input Layer",
) -> Table:
    required = set(required)
    cols = []
    for col, kind in _expand(spec):
        stages = tuple(s for s in STAGES if s in used_by.get(col, "").split())
        cols.append(Column(col, SQL_TYPES[kind], col in required, stages))
    unknown = (required | set(used_by)) - {c.name for c in cols}
    if unknown:  # a typo here would silently weaken the contract
        raise ValueError(f"{name}: columns not in the table spec: {sorted(unknown)}")
    # The older Tuva schema says patient_id where the current one says person_id.
    renames = {"patient_id": "person_id"} if "person_id" in {c.name for c in cols} else {}
    return Table(name, description, grain, tuple(cols), source, renames)


_ALL = "core measures readmissions risk outreach"

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _table(
            "eligibility",
            "Enrollment spans: one row per person, payer, plan and coverage span.",
            "person_id, payer, plan, enrollment_start_date",
            """person_id:s member_id:s subscriber_id:s gender:s race:s birth_date:d death_date:d
            death_flag:i enrollment_start_date:d enrollment_end_date:d payer:s payer_type:s plan:s
            original_reason_entitlement_code:s dual_status_code:s medicare_status_code:s
            enrollment_status:s hospice_flag:i snp_type:s medicaid_indicator:i
            long_term_institutional_flag:i part_d_raf_type:s low_income_subsidy_indicator:s
            metal_level:s csr_indicator:i enrollment_duration_months:i esrd_status:s
            transplant_duration_months:i group_id:s group_name:s name_suffix:s first_name:s
            middle_name:s last_name:s social_security_number:s subscriber_relation:s address:s
            city:s state:s zip_code:s phone:s email:s ethnicity:s data_source:s file_name:s
            file_date:d ingest_datetime:ts""",
            required=["person_id", "enrollment_start_date", "enrollment_end_date"],
            used_by={
                "person_id": _ALL,
                "gender": "core measures risk outreach",
                "race": "core measures risk",
                "ethnicity": "core measures risk",
                "birth_date": _ALL,
                "death_date": _ALL,
                "enrollment_start_date": _ALL,
                "enrollment_end_date": _ALL,
                "payer": "core measures readmissions",
                "payer_type": "core measures readmissions risk outreach",
                "original_reason_entitlement_code": "core risk",
                "dual_status_code": "core risk",
                "hospice_flag": "core measures outreach",
                "long_term_institutional_flag": "core measures",
                "first_name": "core outreach",
                "last_name": "core outreach",
                "phone": "core outreach",
                "zip_code": "core",
            },
        ),
        _table(
            "medical_claim",
            "Institutional and professional claim lines (UB-04 / CMS-1500), with adjustments.",
            "claim_id, claim_line_number",
            """claim_id:s claim_line_number:i claim_type:s person_id:s member_id:s payer:s plan:s
            claim_start_date:d claim_end_date:d claim_line_start_date:d claim_line_end_date:d
            admission_date:d discharge_date:d admit_source_code:s admit_type_code:s
            discharge_disposition_code:s place_of_service_code:s bill_type_code:s drg_code_type:s
            drg_code:s revenue_center_code:s service_unit_quantity:n hcpcs_code:s
            hcpcs_modifier_1:s hcpcs_modifier_2:s hcpcs_modifier_3:s hcpcs_modifier_4:s
            hcpcs_modifier_5:s rendering_npi:s rendering_tin:s billing_npi:s billing_tin:s
            facility_npi:s paid_date:d paid_amount:n allowed_amount:n charge_amount:n
            coinsurance_amount:n copayment_amount:n deductible_amount:n total_cost_amount:n
            diagnosis_code_type:s {diagnosis_code_1..25}:s {diagnosis_poa_1..25}:s
            procedure_code_type:s {procedure_code_1..25}:s {procedure_date_1..25}:d
            in_network_flag:b data_source:s file_name:s file_date:d ingest_datetime:ts""",
            required=[
                "claim_id",
                "claim_line_number",
                "claim_type",
                "person_id",
                "claim_start_date",
            ],
            used_by={
                "claim_id": _ALL,
                "claim_line_number": "core",
                "claim_type": _ALL,
                "person_id": _ALL,
                "claim_start_date": _ALL,
                "claim_end_date": _ALL,
                "admission_date": "core readmissions risk outreach",
                "discharge_date": "core readmissions risk outreach",
                "admit_type_code": "core readmissions risk",
                "admit_source_code": "core readmissions",
                "discharge_disposition_code": "core readmissions measures outreach",
                "place_of_service_code": "core measures",
                "bill_type_code": "core readmissions measures outreach",
                "drg_code": "core readmissions",
                "revenue_center_code": "core measures readmissions",
                "hcpcs_code": "core measures",
                "hcpcs_modifier_1": "core measures",
                "facility_npi": "core readmissions outreach",
                "rendering_npi": "core measures",
                "paid_amount": "core risk",
                "allowed_amount": "core risk",
                "diagnosis_code_type": "core",
                "diagnosis_code_1": _ALL,
                "procedure_code_1": "core readmissions measures",
            },
        ),
        _table(
            "pharmacy_claim",
            "Pharmacy fills (NCPDP): one row per dispensed drug.",
            "claim_id, claim_line_number",
            """claim_id:s claim_line_number:i person_id:s member_id:s payer:s plan:s
            prescribing_provider_npi:s dispensing_provider_npi:s dispensing_date:d ndc_code:s
            quantity:n days_supply:i refills:i paid_date:d paid_amount:n allowed_amount:n
            charge_amount:n coinsurance_amount:n copayment_amount:n deductible_amount:n
            in_network_flag:b data_source:s file_name:s file_date:d ingest_datetime:ts""",
            required=["claim_id", "claim_line_number", "person_id", "dispensing_date", "ndc_code"],
            used_by={
                "claim_id": "core",
                "claim_line_number": "core",
                "person_id": "core measures risk",
                "dispensing_date": "core measures risk",
                "ndc_code": "core measures risk",
                "days_supply": "core measures risk",
                "quantity": "core",
                "paid_amount": "core risk",
            },
        ),
        _table(
            "patient",
            "Patient demographics from the EHR (master patient index).",
            "person_id",
            """person_id:s patient_id:s name_suffix:s first_name:s middle_name:s last_name:s sex:s
            race:s birth_date:d death_date:d death_flag:i social_security_number:s address:s city:s
            state:s zip_code:s county:s latitude:f longitude:f phone:s email:s ethnicity:s
            data_source:s file_name:s ingest_datetime:ts""",
            required=["person_id"],
            used_by={
                "person_id": _ALL,
                "first_name": "core outreach",
                "last_name": "core outreach",
                "sex": "core measures risk",
                "race": "core measures risk",
                "ethnicity": "core measures risk",
                "birth_date": _ALL,
                "death_date": _ALL,
                "phone": "core outreach",
                "zip_code": "core",
            },
        ),
        _table(
            "encounter",
            "EHR encounters (visits and stays) typed by the source system.",
            "encounter_id",
            """encounter_id:s person_id:s patient_id:s encounter_type:s encounter_start_date:d
            encounter_end_date:d length_of_stay:i admit_source_code:s admit_source_description:s
            admit_type_code:s admit_type_description:s discharge_disposition_code:s
            discharge_disposition_description:s attending_provider_id:s attending_provider_name:s
            facility_npi:s facility_name:s primary_diagnosis_code_type:s primary_diagnosis_code:s
            primary_diagnosis_description:s drg_code_type:s drg_code:s drg_description:s
            paid_amount:n allowed_amount:n charge_amount:n data_source:s file_name:s
            ingest_datetime:ts""",
            required=["encounter_id", "person_id", "encounter_type", "encounter_start_date"],
            used_by={
                "encounter_id": "core",
                "person_id": _ALL,
                "encounter_type": _ALL,
                "encounter_start_date": _ALL,
                "encounter_end_date": "core readmissions risk outreach",
                "admit_type_code": "core readmissions risk",
                "discharge_disposition_code": "core readmissions",
                "facility_npi": "core readmissions outreach",
                "facility_name": "outreach",
                "primary_diagnosis_code": "core readmissions measures",
                "drg_code": "core readmissions",
            },
        ),
        _table(
            "condition",
            "Diagnoses and problem-list entries (ICD-10-CM or SNOMED CT).",
            "condition_id",
            """condition_id:s payer:s person_id:s patient_id:s encounter_id:s claim_id:s
            recorded_date:d onset_date:d resolved_date:d status:s condition_type:s
            source_code_type:s source_code:s source_description:s normalized_code_type:s
            normalized_code:s normalized_description:s condition_rank:i present_on_admit_code:s
            present_on_admit_description:s data_source:s file_name:s ingest_datetime:ts""",
            required=["condition_id", "person_id", "source_code_type", "source_code"],
            used_by={
                "condition_id": "core",
                "person_id": "core measures risk",
                "recorded_date": "core measures risk",
                "onset_date": "core measures risk",
                "resolved_date": "core",
                "source_code_type": "core measures risk",
                "source_code": "core measures risk",
                "normalized_code_type": "core",
                "normalized_code": "core",
            },
        ),
        _table(
            "procedure",
            "Procedures from the EHR (CPT/HCPCS, ICD-10-PCS, SNOMED CT).",
            "procedure_id",
            """procedure_id:s person_id:s patient_id:s encounter_id:s claim_id:s procedure_date:d
            source_code_type:s source_code:s source_description:s normalized_code_type:s
            normalized_code:s normalized_description:s modifier_1:s modifier_2:s modifier_3:s
            modifier_4:s modifier_5:s practitioner_id:s data_source:s file_name:s
            ingest_datetime:ts""",
            required=[
                "procedure_id",
                "person_id",
                "procedure_date",
                "source_code_type",
                "source_code",
            ],
            used_by={
                "procedure_id": "core",
                "person_id": "core measures",
                "procedure_date": "core measures",
                "source_code_type": "core measures",
                "source_code": "core measures",
            },
        ),
        _table(
            "lab_result",
            "Laboratory results (LOINC) with values and units.",
            "lab_result_id",
            """lab_result_id:s person_id:s patient_id:s encounter_id:s accession_number:s
            source_order_type:s source_order_code:s source_order_description:s
            source_component_type:s source_component_code:s source_component_description:s
            normalized_order_type:s normalized_order_code:s normalized_order_description:s
            normalized_component_type:s normalized_component_code:s
            normalized_component_description:s status:s result:s result_datetime:ts
            collection_datetime:ts source_units:s normalized_units:s
            source_reference_range_low:s source_reference_range_high:s
            normalized_reference_range_low:s normalized_reference_range_high:s
            source_abnormal_flag:s normalized_abnormal_flag:s specimen:s
            ordering_practitioner_id:s data_source:s file_name:s ingest_datetime:ts""",
            required=["lab_result_id", "person_id", "result"],
            used_by={
                "lab_result_id": "core",
                "person_id": "core measures risk",
                "source_order_code": "core measures risk",
                "source_component_code": "core measures risk",
                "normalized_order_code": "core",
                "normalized_component_code": "core",
                "result": "core measures risk",
                "result_datetime": "core measures risk",
                "collection_datetime": "core measures risk",
                "source_units": "core",
                "status": "core",
            },
        ),
        _table(
            "observation",
            "Vitals and other observations (LOINC), e.g. systolic 8480-6 and diastolic 8462-4.",
            "observation_id",
            """observation_id:s person_id:s payer:s patient_id:s encounter_id:s panel_id:s
            observation_date:d observation_type:s source_code_type:s source_code:s
            source_description:s normalized_code_type:s normalized_code:s normalized_description:s
            result:s source_units:s normalized_units:s source_reference_range_low:s
            source_reference_range_high:s normalized_reference_range_low:s
            normalized_reference_range_high:s data_source:s file_name:s ingest_datetime:ts""",
            required=["observation_id", "person_id", "observation_date", "source_code", "result"],
            used_by={
                "observation_id": "core",
                "person_id": "core measures risk",
                "encounter_id": "core measures",
                "observation_date": "core measures risk",
                "source_code_type": "core",
                "source_code": "core measures risk",
                "result": "core measures risk",
                "source_units": "core",
            },
        ),
        _table(
            "medication",
            "Medication orders and administrations from the EHR (NDC or RxNorm).",
            "medication_id",
            """medication_id:s person_id:s payer:s patient_id:s encounter_id:s dispensing_date:d
            prescribing_date:d source_code_type:s source_code:s source_description:s ndc_code:s
            ndc_description:s rxnorm_code:s rxnorm_description:s atc_code:s atc_description:s
            route:s strength:s quantity:n quantity_unit:s days_supply:i practitioner_id:s
            data_source:s file_name:s ingest_datetime:ts""",
            required=["medication_id", "person_id"],
            used_by={
                "medication_id": "core",
                "person_id": "core risk",
                "dispensing_date": "core risk",
                "prescribing_date": "core risk",
                "ndc_code": "core risk",
                "rxnorm_code": "core risk",
                "days_supply": "core",
            },
        ),
        _table(
            "provider_attribution",
            "Monthly attribution of each person to a primary-care provider and practice.",
            "person_id, year_month",
            """person_id:s patient_id:s member_id:s year_month:s payer:s plan:s data_source:s
            payer_attributed_provider:s payer_attributed_provider_practice:s
            payer_attributed_provider_organization:s payer_attributed_provider_lob:s
            custom_attributed_provider:s custom_attributed_provider_practice:s
            custom_attributed_provider_organization:s custom_attributed_provider_lob:s""",
            required=["person_id", "year_month"],
            used_by={
                "person_id": "core measures outreach",
                "year_month": "core measures outreach",
                "payer_attributed_provider": "core measures outreach",
                "payer_attributed_provider_practice": "core measures outreach",
                "custom_attributed_provider": "core measures outreach",
                "custom_attributed_provider_practice": "core measures outreach",
            },
        ),
        _table(
            "registry",
            "popcare's care-management registry: programme enrolment, consent, contact, SDOH.",
            "person_id, program, enrolled_date",
            """person_id:s program:s enrolled_date:d disenrolled_date:d care_manager_id:s
            opted_out:b preferred_language:s preferred_contact:s phone:s last_outreach_date:d
            last_outreach_outcome:s housing_instability:b food_insecurity:b
            transportation_barrier:b""",
            required=["person_id"],
            used_by={
                "person_id": "core risk outreach",
                "program": "risk outreach",
                "enrolled_date": "risk outreach",
                "disenrolled_date": "risk outreach",
                "care_manager_id": "outreach",
                "opted_out": "outreach",
                "preferred_language": "outreach",
                "preferred_contact": "outreach",
                "phone": "outreach",
                "last_outreach_date": "outreach",
                "last_outreach_outcome": "outreach",
                "housing_instability": "risk",
                "food_insecurity": "risk",
                "transportation_barrier": "risk",
            },
            source="popcare",
        ),
    )
}

# Someone to score: an extract must carry at least one of these.
PERSON_SOURCES = ("eligibility", "patient")

FILE_SUFFIXES = (".csv", ".parquet")


GENERATED_MARKER = (
    "<!-- generated by `popcare contract --update-doc` from pipelines/contract.py -->"
)


def to_markdown() -> str:
    """The generated part of docs/input-contract.md."""
    lines = [GENERATED_MARKER, ""]
    for table in TABLES.values():
        lines += [
            f"### `{table.name}`",
            "",
            f"{table.description} Source: {table.source}. Grain: {table.grain}.",
            "",
            "| column | type | required | used by |",
            "|---|---|---|---|",
        ]
        for c in table.columns:
            req = "**yes**" if c.required else ""
            lines.append(f"| `{c.name}` | {c.sql_type} | {req} | {', '.join(c.used_by)} |")
        lines.append("")
    return "\n".join(lines)


def update_doc(path: Path) -> None:
    """Rewrite the generated tables at the end of the contract doc, keeping the prose above them."""
    text = path.read_text(encoding="utf-8")
    cut = text.find(GENERATED_MARKER)
    head = text if cut < 0 else text[:cut]
    path.write_text(head + to_markdown(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(to_markdown())
