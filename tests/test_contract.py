"""The input contract: code and documentation agree, and the public Tuva sample conforms."""

import csv

import pytest

from pipelines.contract import PERSON_SOURCES, TABLES, to_markdown
from pipelines.settings import REPO_ROOT

TUVA_TABLES = [
    "eligibility",
    "medical_claim",
    "pharmacy_claim",
    "patient",
    "encounter",
    "condition",
    "procedure",
    "lab_result",
    "observation",
    "medication",
    "provider_attribution",
]


def test_doc_holds_the_generated_contract_verbatim():
    doc = (REPO_ROOT / "docs" / "input-contract.md").read_text(encoding="utf-8")
    assert to_markdown() in doc, (
        "docs/input-contract.md is stale: run `popcare contract --update-doc`"
    )


def test_every_table_and_column_in_code_is_in_the_doc():
    doc = (REPO_ROOT / "docs" / "input-contract.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"### `{table.name}`" in doc
        for column in table.columns:
            assert f"| `{column.name}` | {column.sql_type} |" in doc


def test_contract_has_the_tuva_tables_and_the_registry():
    assert list(TABLES) == [*TUVA_TABLES, "registry"]
    assert PERSON_SOURCES == ("eligibility", "patient")


def test_medical_claim_has_25_diagnosis_poa_and_procedure_slots():
    names = TABLES["medical_claim"].column_names
    for stem in ("diagnosis_code", "diagnosis_poa", "procedure_code", "procedure_date"):
        assert [n for n in names if n.startswith(stem + "_") and n[-1].isdigit()] == [
            f"{stem}_{i}" for i in range(1, 26)
        ]
    assert len(names) == 148
    assert TABLES["medical_claim"].column("procedure_date_7").sql_type == "date"


def test_registry_columns_are_the_issue_contract():
    registry = TABLES["registry"]
    assert registry.column_names == (
        "person_id",
        "program",
        "enrolled_date",
        "disenrolled_date",
        "care_manager_id",
        "opted_out",
        "preferred_language",
        "preferred_contact",
        "phone",
        "last_outreach_date",
        "last_outreach_outcome",
        "housing_instability",
        "food_insecurity",
        "transportation_barrier",
    )
    bools = [c.name for c in registry.columns if c.sql_type == "boolean"]
    assert bools == [
        "opted_out",
        "housing_instability",
        "food_insecurity",
        "transportation_barrier",
    ]
    assert registry.required == ("person_id",)


def test_required_columns_are_keys_every_table_needs():
    assert TABLES["eligibility"].required == (
        "person_id",
        "enrollment_start_date",
        "enrollment_end_date",
    )
    for table in TABLES.values():
        assert "person_id" in table.required
        # Every required column is also documented as used by some stage.
        for name in table.required:
            assert table.column(name).used_by, f"{table.name}.{name} has no stage"


def test_legacy_patient_id_maps_to_person_id_where_person_id_exists():
    assert TABLES["eligibility"].legacy_renames == {"patient_id": "person_id"}
    assert TABLES["registry"].legacy_renames == {"patient_id": "person_id"}


@pytest.mark.parametrize(
    "table",
    [
        "eligibility",
        "medical_claim",
        "pharmacy_claim",
        "lab_result",
        "observation",
        "provider_attribution",
    ],
)
def test_tuva_sample_headers_are_contract_columns(tuva_dir, table):
    with (tuva_dir / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    contract = set(TABLES[table].column_names)
    assert set(header) <= contract, set(header) - contract
    assert set(TABLES[table].required) <= set(header)
