"""The measure engine: definitions, date windows, value-set files and overrides, generated SQL."""

import csv
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.assets.measures import MEASURE_CORE_INPUTS
from pipelines.check_digits import loinc_is_valid
from pipelines.codesets import icd10cm_accepts
from pipelines.measures import (
    BLOCKS_DIR,
    DEFINITIONS_DIR,
    VALUE_SET_COLUMNS,
    VALUE_SETS_DIR,
    MeasureDefinitionError,
    ValueSetError,
    compile_measure,
    date_sql,
    load_measures,
    load_value_sets,
    normalise_code,
    parse_measure,
    text_sql,
    value_set_override_dir,
)
from pipelines.sql import SQL_DIR, read_sql, render
from pipelines.synthetic import codes

MEASURE_IDS = {
    "cms122",
    "cms165",
    "cms125",
    "cms130",
    "ked",
    "spd",
    "pdc_diabetes",
    "pdc_rasa",
    "pdc_statins",
    "fuh7",
    "fuh30",
    "fu_discharge_7",
    "fu_discharge_14",
    "edu",
}


@pytest.fixture(scope="module")
def value_sets() -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for row in load_value_sets():
        found.setdefault(row["value_set"], set()).add((row["code_system"], row["code"]))
    return found


def evaluate(expression: str, period_start: date, period_end: date, anchor=None):
    con = duckdb.connect()
    sql = f"select {expression} from (select cast($anchor as date) as anchor_date) as u"
    params = {"period_start": period_start, "period_end": period_end, "as_of": date(2026, 9, 30)}
    params["anchor"] = anchor
    wanted = con.extract_statements(sql)[0].named_parameters
    return con.execute(sql, {k: v for k, v in params.items() if k in wanted}).fetchone()[0]


@pytest.mark.parametrize(
    ("expression", "start", "end", "expected"),
    [
        # CMS125: October 1 two years before a calendar period through its end.
        ("period_end - 27 months + 1 day", date(2026, 1, 1), date(2026, 12, 31), date(2024, 10, 1)),
        # ... and 27 months back from a rolling period ending on the as-of date.
        ("period_end - 27 months + 1 day", date(2025, 10, 1), date(2026, 9, 30), date(2024, 7, 1)),
        # CMS130 colonoscopy: the period or the nine years before it.
        ("period_end - 10 years + 1 day", date(2025, 1, 1), date(2025, 12, 31), date(2016, 1, 1)),
        (
            "period_start + 6 months - 1 day",
            date(2025, 1, 1),
            date(2025, 12, 31),
            date(2025, 6, 30),
        ),
        ("period_end - 91 days", date(2025, 1, 1), date(2025, 12, 31), date(2025, 10, 1)),
        ("period_start", date(2025, 1, 1), date(2025, 12, 31), date(2025, 1, 1)),
    ],
)
def test_date_windows_are_measured_from_the_period(expression, start, end, expected):
    assert evaluate(date_sql(expression, "test"), start, end) == expected


def test_anchor_dates_and_evidence_templates():
    sql = date_sql("anchor + 7 days", "test")
    assert evaluate(sql, date(2025, 1, 1), date(2025, 12, 31), date(2025, 3, 10)) == date(
        2025, 3, 17
    )
    text = text_sql("no visit from {anchor + 1 day} to {anchor + 7 days} (it's due)", "test")
    assert evaluate(text, date(2025, 1, 1), date(2025, 12, 31), date(2025, 3, 10)) == (
        "no visit from 2025-03-11 to 2025-03-17 (it's due)"
    )
    with pytest.raises(MeasureDefinitionError, match="not available"):
        date_sql("anchor", "unit", allow_anchor=False)
    with pytest.raises(MeasureDefinitionError, match="must be period_start"):
        date_sql("period_end - 2 weeks", "test")
    with pytest.raises(MeasureDefinitionError):
        date_sql("period_end; drop table x", "test")


def test_the_fourteen_measures_are_defined_and_compile(value_sets):
    measures = load_measures()
    assert {m.id for m in measures} == MEASURE_IDS
    for measure in measures:
        sql = compile_measure(measure, value_sets)
        assert "{{" not in sql
        duckdb.connect().extract_statements(sql)  # parses


def test_every_measure_has_a_doc_page_with_source_and_range():
    for measure_id in MEASURE_IDS:
        page = {"fuh30": "fuh7", "fu_discharge_14": "fu_discharge_7"}.get(measure_id, measure_id)
        text = (DEFINITIONS_DIR.parents[1] / "docs" / "measures" / f"{page}.md").read_text()
        assert "## Source" in text and "## Deviations" in text, page
        assert re.search(rf"Tested range \(`{measure_id}`\): [\d.]+ to [\d.]+", text), page


def base(**overrides):
    data = {
        "id": "demo",
        "numerator": {"block": "value_set_hit", "value_sets": ["mammography"]},
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (base(numerator={"block": "no_such_block"}), "block 'no_such_block'"),
        (base(numerator={"block": "value_set_hit", "value_sets": ["nope"]}), "value set 'nope'"),
        (
            base(numerator={"block": "value_set_hit", "value_sets": ["fobt"], "windw": {}}),
            "unknown parameters",
        ),
        (base(numerator={"block": "age", "min": "18"}), "whole number"),
        (base(exclusions=[{"use": "hospice", "reason": "Hospice!"}]), "reason"),
        (base(numerator={"use": "no_such_shared"}), "no file"),
        (base(numerator={"block": "age", "at": "anchor"}), "not available"),
        (
            base(
                numerator={
                    "block": "value_set_hit",
                    "value_sets": ["fobt"],
                    "window": {"from": "x"},
                }
            ),
            "must be period_start",
        ),
    ],
)
def test_definition_errors_name_the_problem(value_sets, data, message):
    with pytest.raises(MeasureDefinitionError, match=re.escape(message)):
        compile_measure(parse_measure(data), value_sets)


def test_top_level_definition_errors():
    with pytest.raises(MeasureDefinitionError, match="unknown keys"):
        parse_measure(base(numerators={}))
    with pytest.raises(MeasureDefinitionError, match="weight"):
        parse_measure(base(kind="utilisation"))
    with pytest.raises(MeasureDefinitionError, match="file name"):
        parse_measure(base(), Path("other.yml"))


def test_optional_value_sets_may_be_empty(value_sets):
    data = base(numerator={"block": "value_set_hit", "value_sets": ["diabetes_glp1"]})
    with pytest.raises(MeasureDefinitionError):
        compile_measure(parse_measure(data), value_sets)
    compile_measure(parse_measure({**data, "optional_value_sets": ["diabetes_glp1"]}), value_sets)


def test_value_set_files_are_well_formed():
    seen: set[tuple[str, str, str]] = set()
    for path in sorted(VALUE_SETS_DIR.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            assert tuple(reader.fieldnames or ()) == VALUE_SET_COLUMNS, path.name
            for row in reader:
                key = (row["value_set"], row["code_system"], row["code"])
                assert key not in seen, key
                seen.add(key)
                assert row["source"] and row["version"] and row["description"], key
                code, system = row["code"], row["code_system"]
                assert normalise_code(system, code) == (system, code), key
                if system == "icd-10-cm":
                    assert icd10cm_accepts(code), key
                elif system == "loinc":
                    assert loinc_is_valid(code), key
                elif system == "icd-10-pcs":
                    assert re.fullmatch(r"[0-9A-HJ-NP-Z]{7}", code), key
                elif system == "cpt":
                    assert re.fullmatch(r"\d{4}[0-9FT]", code), key
                    # CPT descriptors are AMA-licensed: descriptions are popcare's own, short.
                    assert len(row["description"]) <= 80, key
                elif system == "hcpcs":
                    assert re.fullmatch(r"[A-V]\d{4}", code), key


def test_value_sets_cover_every_code_the_generator_uses(value_sets):
    def has(value_set_names, system, code):
        return any((system, code) in value_sets[name] for name in value_set_names)

    visits = ["office_visit", "preventive_visit"]
    for code in (*codes.OFFICE_EM, *codes.AWV, *codes.PREVENTIVE_ADULT):
        assert has(visits, "cpt" if code[0].isdigit() else "hcpcs", code), code
    for code in codes.TCM:
        assert has(["transitional_care_visit"], "cpt", code)
    assert has(["mammography"], "cpt", "77067") and has(["mammography"], "cpt", "77063")
    assert has(["mammography"], "snomed-ct", codes.SNOMED_PROC["mammography"])
    for code in codes.COLONOSCOPY:
        assert has(["colonoscopy"], "cpt" if code[0].isdigit() else "hcpcs", code), code
    assert has(["colonoscopy"], "snomed-ct", codes.SNOMED_PROC["colonoscopy"])
    assert has(["colonoscopy"], "icd-10-pcs", codes.PCS_COLONOSCOPY)
    for code in codes.FIT:
        assert has(["fobt"], "cpt" if code[0].isdigit() else "hcpcs", code), code
    assert has(["fobt"], "loinc", codes.LOINC["fit"][0])
    assert has(["fit_dna"], "cpt", codes.FIT_DNA[0])
    assert has(["hba1c"], "loinc", codes.LOINC["a1c"][0])
    assert has(["egfr"], "loinc", codes.LOINC["egfr"][0])
    assert has(["egfr"], "loinc", codes.LOINC["egfr_mdrd"][0])
    assert has(["uacr"], "loinc", codes.LOINC["uacr"][0])
    assert has(["egfr_lab_claims"], "cpt", codes.LAB_CPT["bmp"])
    assert has(["urine_albumin_claims"], "cpt", codes.LAB_CPT["uacr"])
    for code, _low, _high in codes.CPT2_A1C:
        assert has([n for n in value_sets if n.startswith("hba1c_result_")], "cpt", code)
    for code in codes.CONDITION_ICD10["diabetes"]:
        assert has(["diabetes"], "icd-10-cm", code), code
    assert has(["diabetes"], "snomed-ct", codes.CONDITION_SNOMED["diabetes"])
    assert has(["essential_hypertension"], "icd-10-cm", "I10")
    assert has(["essential_hypertension"], "snomed-ct", codes.CONDITION_SNOMED["hypertension"])
    for condition in ("smi", "depression"):
        for code in codes.CONDITION_ICD10[condition]:
            assert has(["mental_illness"], "icd-10-cm", code), code
    for admit_class in ("psychosis", "depression_acute"):
        for code in codes.ADMIT_CLASSES[admit_class][0]:
            assert has(["mental_illness"], "icd-10-cm", code), code
    assert has(["colorectal_cancer"], "icd-10-cm", "C189")
    assert has(["esrd"], "icd-10-cm", "Z992") and has(["esrd"], "icd-10-cm", "N186")
    assert has(["dialysis"], "icd-10-pcs", "5A1D70Z")
    assert has(["kidney_transplant"], "icd-10-pcs", "0TY00Z0")
    for condition in ("dementia", "heart_failure", "copd"):
        for code in codes.CONDITION_ICD10[condition]:
            assert has(["advanced_illness"], "icd-10-cm", code), code
    assert has(["frailty_encounter"], "hcpcs", "G0299")  # home-health nursing visits
    assert has(["hospice_care"], "encounter-type", "hospice")
    drug_sets = {
        "metformin": "diabetes_biguanide",
        "sulfonylurea": "diabetes_sulfonylurea",
        "dpp4": "diabetes_dpp4",
        "sglt2": "diabetes_sglt2",
        "insulin": "insulin",
        "statin": "statin",
        "dementia_drug": "dementia_medication",
    }
    for drug_class, value_set in drug_sets.items():
        for ndc, *_ in codes.DRUGS[drug_class]:
            assert has([value_set], "ndc", ndc), (drug_class, ndc)
    for ndc, *_ in codes.DRUGS["ras"]:
        assert has(["ace_inhibitor", "arb"], "ndc", ndc), ndc


def write_csv(path: Path, rows: list[list[str]], header=VALUE_SET_COLUMNS) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_override_folder_replaces_whole_value_sets_and_normalises_vsac_spellings(tmp_path):
    write_csv(
        tmp_path / "vsac_export.csv",
        [
            ["mammography", "CPT", "77067", "my own words", "VSAC 2.16.840.1", "20250501"],
            ["diabetes", "ICD10CM", "E11.9", "my own words", "VSAC", "20250501"],
            ["statin", "NDC", "0071-0155-23", "my own words", "PQA", "2025-07"],
        ],
    )
    rows = load_value_sets(override_dir=tmp_path)
    by_set: dict[str, set] = {}
    for row in rows:
        by_set.setdefault(row["value_set"], set()).add(
            (row["code_system"], row["code"], row["origin"])
        )
    assert by_set["mammography"] == {("cpt", "77067", "override")}
    assert by_set["diabetes"] == {("icd-10-cm", "E119", "override")}
    assert by_set["statin"] == {("ndc", "00071015523", "override")}
    assert all(origin == "shipped" for *_, origin in by_set["fobt"])  # untouched


def test_override_folder_from_the_environment_and_its_errors(tmp_path):
    assert value_set_override_dir({}) is None
    assert value_set_override_dir({"POPCARE_VALUE_SETS": str(tmp_path)}) == tmp_path
    with pytest.raises(ValueSetError, match="is not a folder"):
        value_set_override_dir({"POPCARE_VALUE_SETS": str(tmp_path / "missing")})
    write_csv(
        tmp_path / "bad.csv", [["x", "cpt", "1"]], header=("value_set", "code_system", "code")
    )
    with pytest.raises(ValueSetError, match="columns must be"):
        load_value_sets(override_dir=tmp_path)
    write_csv(tmp_path / "bad.csv", [["fobt", "made-up", "1", "d", "s", "v"]])
    with pytest.raises(ValueSetError, match=r"bad\.csv:2: unknown code system"):
        load_value_sets(override_dir=tmp_path)


# One small measure per building block (the full definitions repeat the same blocks many times
# over; transpiling those takes sqlglot tens of seconds).
BLOCK_EXAMPLES = {
    "age": {"min": 18},
    "sex": {"values": ["female"]},
    "death": {},
    "long_term_institutional": {},
    "continuous_enrollment": {},
    "value_set_hit": {"value_sets": ["fobt"], "modifiers": ["50"]},
    "encounter_hit": {"encounter_types": ["office"], "diagnosis_value_sets": ["mental_illness"]},
    "encounter_count": {"encounter_types": ["emergency_department"]},
    "member_years": {},
    "most_recent_lab": {
        "value_sets": ["hba1c"],
        "threshold": 9,
        "coded_results": [{"value_set": "hba1c_result_gt_9", "value": 9, "comparator": ">"}],
    },
    "most_recent_bp": {},
    "paired_tests": {"first_value_sets": ["urine_albumin"], "second_value_sets": ["uacr"]},
    "pdc": {"value_sets": ["statin"]},
    "admission_after_discharge": {},
}


def test_every_building_block_has_an_example():
    from pipelines.measures import BLOCKS

    assert set(BLOCK_EXAMPLES) == set(BLOCKS)


@pytest.mark.parametrize("block", sorted(BLOCK_EXAMPLES))
def test_generated_sql_carries_to_spark_and_trino(value_sets, block):
    sqlglot = pytest.importorskip("sqlglot")
    criterion = {"block": block, **BLOCK_EXAMPLES[block]}
    data = {
        "id": "demo",
        "unit": "discharge" if block == "admission_after_discharge" else "person",
        "population": [{"block": "age", "min": 18}],
        "denominator": [{"all_of": [criterion, {"block": "age", "min": 18}]}],
        "exclusions": [{"any_of": [criterion], "reason": "demo"}],
        "numerator": criterion,
        "gap": {"open_until": "period_end", "requires": criterion},
    }
    statements = [compile_measure(parse_measure(data), value_sets)]
    if block == "age":
        statements += [
            read_sql("marts/measures/code_event"),
            read_sql("marts/measures/value_set"),
            read_sql("marts/measures/measure_patient_table"),
            render(
                read_sql("marts/measure_rates"),
                {
                    "measure_meta": "('x', 'proportion', 1.0, true)",
                    "age_bands": "('x', '0-17', 0, 17)",
                },
            ),
        ]
    for sql in statements:
        for dialect in ("spark", "trino"):
            sqlglot.transpile(
                sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE
            )


def test_measure_sql_reads_only_the_core_tables_the_assets_depend_on():
    tables: set[tuple[str, str]] = set()
    for path in (SQL_DIR / "marts" / "measures").rglob("*.sql"):
        body = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")
        )
        tables |= set(re.findall(r"\b(core|staging)\.([a-z_]+)\b", body))
    assert {name for schema, name in tables if schema == "core"} == set(MEASURE_CORE_INPUTS)
    assert not {name for schema, name in tables if schema == "staging"}
    assert BLOCKS_DIR.is_dir()
