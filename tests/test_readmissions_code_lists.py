"""The planned-readmission algorithm's code lists: shape, provenance, coverage, user override."""

import csv
import re
from datetime import date

import duckdb
import pytest

from pipelines.readmissions import (
    CODE_LIST,
    CODE_LISTS,
    CODE_LISTS_DIR,
    ENV_CODES,
    CodeListError,
    build_readmission_index_stays,
    code_list_paths,
    load_code_lists,
    normalise_code,
    override_dir_from_env,
)
from pipelines.synthetic import codes as generator_codes
from tests.test_readmissions import member, run, stay

PCS_PREFIX = re.compile(r"^[0-9A-HJ-NP-Z]{1,7}$")  # ICD-10-PCS: no I, no O


def read(name):
    with (CODE_LISTS_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def ccs_set(name):
    return {int(r["ccs"]) for r in read(name)}


def longest_prefix(code, rows):
    matches = [r for r in rows if code.startswith(r["code_prefix"])]
    return max(matches, key=lambda r: len(r["code_prefix"])) if matches else None


def test_every_list_has_its_columns_and_a_source_and_version_on_every_row():
    for spec in CODE_LISTS:
        path = CODE_LISTS_DIR / f"{spec.name}.csv"
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == [c for c, _ in spec.columns], spec.name
            data = list(reader)
        assert data or spec.may_be_empty, spec.name
        for row in data:
            assert row["source"].strip() and row["version"].strip(), (spec.name, row)
    assert (CODE_LISTS_DIR / "README.md").is_file()


def test_ccs_lists_match_the_cms_2021_hwr_tables():
    # Counts and members as in CMS 2021 HWR / PRA v4.0 (Tuva seeds @31cd028d).
    assert ccs_set("always_planned_procedure_ccs") == {64, 105, 176}
    assert ccs_set("always_planned_diagnosis_ccs") == {45, 254}
    assert len(read("potentially_planned_procedure_ccs")) == 65
    assert {44, 45, 152, 153, 158, 211, 224} <= ccs_set("potentially_planned_procedure_ccs")
    assert len(read("acute_diagnosis_ccs")) == 80
    assert {2, 100, 109, 122, 157} <= ccs_set("acute_diagnosis_ccs")
    exclusions = {int(r["ccs"]): r["exclusion_category"] for r in read("exclusion_diagnosis_ccs")}
    assert len(exclusions) == 47
    assert {c for c, k in exclusions.items() if k == "cancer_medical_treatment"} == set(
        range(11, 46)
    )
    assert {c for c, k in exclusions.items() if k == "rehabilitation"} == {254}
    psychiatric = {c for c, k in exclusions.items() if k == "psychiatric"}
    assert psychiatric == {*range(650, 653), *range(654, 660), 662, 670}


def test_crosswalk_prefixes_are_real_codes_and_unique():
    icd10cm = pytest.importorskip("simple_icd_10_cm")
    for name in ("icd10cm_ccs", "acute_diagnosis_icd10cm"):
        prefixes = [r["code_prefix"] for r in read(name)]
        assert len(prefixes) == len(set(prefixes)), name
        # Every ICD-10-CM prefix is a code or category of the CMS code set (no dots).
        assert [p for p in prefixes if not icd10cm.is_valid_item(p)] == [], name
    for name in ("icd10pcs_ccs", "potentially_planned_icd10pcs"):
        prefixes = [r["code_prefix"] for r in read(name)]
        assert len(prefixes) == len(set(prefixes)), name
        assert [p for p in prefixes if not PCS_PREFIX.match(p)] == [], name
    assert {r["code_system"] for r in read("icd10cm_ccs")} == {"icd-10-cm"}
    assert {r["code_system"] for r in read("icd10pcs_ccs")} == {"icd-10-pcs"}


def test_the_crosswalk_classifies_every_code_the_generator_writes_on_stays():
    dx_rows, pcs_rows = read("icd10cm_ccs"), read("icd10pcs_ccs")
    classes = {**generator_codes.ADMIT_CLASSES, **generator_codes.PLANNED_CLASSES}
    diagnoses = {code for dx, *_ in classes.values() for code in dx}
    procedures = {info[4] for info in classes.values() if info[4]} | {"5A1D70Z", "30233N1"}
    assert [c for c in sorted(diagnoses) if longest_prefix(c, dx_rows) is None] == []
    assert [c for c in sorted(procedures) if longest_prefix(c, pcs_rows) is None] == []

    def ccs(code, table):
        return int(longest_prefix(code, table)["ccs"])

    # The generator's planned families land where the PRA puts them.
    assert ccs("Z5111", dx_rows) in ccs_set("always_planned_diagnosis_ccs")
    assert ccs("0TY00Z0", pcs_rows) in ccs_set("always_planned_procedure_ccs")
    potentially = ccs_set("potentially_planned_procedure_ccs")
    for code in ("3E04305", "0SRD0JZ", "0SR9019", "02703DZ"):
        assert ccs(code, pcs_rows) in potentially, code
    acute = ccs_set("acute_diagnosis_ccs")
    acute_codes = read("acute_diagnosis_icd10cm")
    for code in ("M1711", "M1611", "I2510", "N186"):  # elective principal diagnoses
        assert ccs(code, dx_rows) not in acute and longest_prefix(code, acute_codes) is None
    for code in ("A419", "I214", "J189", "N179", "I639", "K922", "R55"):
        assert ccs(code, dx_rows) in acute, code
    for code in ("I5023", "I5033", "I5043"):  # acute HF: acute by code, not by CCS 108
        assert longest_prefix(code, acute_codes) is not None, code


def test_code_normalisation_accepts_dotted_and_quoted_codes():
    assert normalise_code(" 'j18.9' ") == "J189"
    assert normalise_code('"0TY00Z0"') == "0TY00Z0"


def test_load_code_lists_creates_one_ref_table_per_list():
    con = duckdb.connect()
    counts = load_code_lists(con)
    assert set(counts) == set(CODE_LIST)
    for spec in CODE_LISTS:
        (rows,) = con.execute(f"select count(*) from ref.{spec.table}").fetchone()
        assert rows == counts[spec.name]
    assert counts["potentially_planned_icd10pcs"] == 0


def test_a_users_official_list_replaces_the_shipped_one(tmp_path, monkeypatch):
    # An official-style exact-code map: dotted, quoted codes and an extra column are accepted.
    folder = tmp_path / "official"
    folder.mkdir()
    with (folder / "icd10cm_ccs.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["code_system", "code_prefix", "ccs", "ccs_description", "extra", "source", "version"]
        )
        writer.writerow(["icd-10-cm", "'J18.9'", "'122'", "Pneumonia", "x", "AHRQ", "v2019.1"])
        writer.writerow(["icd-10-cm", "M17.11", "203", "Osteoarthritis", "x", "AHRQ", "v2019.1"])
    monkeypatch.setenv(ENV_CODES, str(folder))
    assert override_dir_from_env() == folder
    paths = code_list_paths(override_dir_from_env())
    assert paths["icd10cm_ccs"] == folder / "icd10cm_ccs.csv"
    assert paths["icd10pcs_ccs"] == CODE_LISTS_DIR / "icd10pcs_ccs.csv"

    con = duckdb.connect()
    run(
        con,
        members=[member("P1"), member("P2")],
        claims=[
            stay("X1", "P1", "2024-03-01", "2024-03-05", dx="J189"),
            # I214 is not in the user's map: the shipped map does not fill in, so the AMI is not
            # known to be acute and the PCI readmission counts as planned.
            stay("R1", "P1", "2024-03-15", "2024-03-17", dx="I214", pcs=("02703DZ",)),
        ],
    )
    stats = build_readmission_index_stays(con, date(2024, 12, 31), override_dir_from_env())
    assert stats["code_lists_overridden"] == 1
    assert stats["icd10cm_ccs_rows"] == 2
    assert con.execute(
        "select readmission_planned from marts.readmission_index_stays where stay_id = 'c:X1'"
    ).fetchone() == (True,)


def test_unusable_lists_are_refused_with_the_file_and_line(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "acute_diagnosis_ccs.csv").write_text("ccs,description\n2,Septicemia\n")
    with pytest.raises(CodeListError, match=r"acute_diagnosis_ccs\.csv: missing column"):
        load_code_lists(duckdb.connect(), folder)
    (folder / "acute_diagnosis_ccs.csv").write_text(
        "ccs,description,source,version\nseptic,Septicemia,x,y\n"
    )
    with pytest.raises(CodeListError, match=r"line 2: ccs 'septic' is not a whole number"):
        load_code_lists(duckdb.connect(), folder)
    (folder / "acute_diagnosis_ccs.csv").write_text("ccs,description,source,version\n")
    with pytest.raises(CodeListError, match="cannot be empty"):
        load_code_lists(duckdb.connect(), folder)
    with pytest.raises(CodeListError, match="not a folder"):
        code_list_paths(tmp_path / "missing")
