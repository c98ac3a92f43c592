"""The Synthea adapter: a Synthea CSV export in, input-contract CSV files out.

Real values come from the public sample ../shared/data/synthea-ma-11 (11 Massachusetts patients,
date-based payer_transitions), hand-checked against its CSV files; the older year-based schema is
covered by the hand-made export in tests/fixtures/synthea_legacy/ (see its README.md).
"""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.adapters import synthea as adapter
from pipelines.adapters.synthea import convert_synthea, payer_transitions_schema
from pipelines.contract import TABLES
from pipelines.settings import REPO_ROOT

SYNTHEA_SAMPLE = REPO_ROOT.parent / "shared" / "data" / "synthea-ma-11"
LEGACY = Path(__file__).parent / "fixtures" / "synthea_legacy"

# Hand-checked in synthea-ma-11/payer_transitions.csv: a Medicaid member with four uninsured gaps
# (16 transition rows), and a Medicare member with a secondary payer who died on 2022-09-07.
MEDICAID_WITH_GAPS = "4237be97-a13d-18b8-6e01-df3ee076675f"
MEDICARE_DECEASED = "0432d0f1-d9c8-da30-9750-39bfe10c0cd9"
# One ambulatory encounter's claim: 5 charge lines, 1811.15 billed, 1262.52 paid by Medicare
# (= the encounter's TOTAL_CLAIM_COST and PAYER_COVERAGE in encounters.csv).
AMBULATORY_CLAIM = "17d1db03-501a-7d02-63e4-d9189e070fc4"

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def _spans(dest: Path, person_id: str) -> list[tuple[str, str, str, str]]:
    rows = [r for r in _read(dest / "eligibility.csv") if r["person_id"] == person_id]
    return sorted(
        (r["enrollment_start_date"], r["enrollment_end_date"], r["payer"], r["payer_type"])
        for r in rows
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The public Synthea sample converted once for the module: (DEST folder, rows per table)."""
    if not SYNTHEA_SAMPLE.is_dir():
        pytest.skip(f"public Synthea sample not found at {SYNTHEA_SAMPLE} (../shared/data absent)")
    dest = tmp_path_factory.mktemp("synthea_converted")
    return dest, convert_synthea(SYNTHEA_SAMPLE, dest)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    dest = tmp_path_factory.mktemp("synthea_legacy_converted")
    return dest, convert_synthea(LEGACY, dest)


def _legacy_copy(tmp_path: Path) -> Path:
    """A writable copy of the year-based fixture's export files (not its date_based/ variant)."""
    src = tmp_path / "legacy"
    src.mkdir()
    for path in LEGACY.glob("*.csv"):
        shutil.copy(path, src / path.name)
    return src


# --- the public sample (date-based payer_transitions)


def test_every_patient_is_converted(sample):
    dest, counts = sample
    with (SYNTHEA_SAMPLE / "patients.csv").open(encoding="utf-8", newline="") as handle:
        source_patients = sum(1 for _ in csv.DictReader(handle))
    assert source_patients == 11
    assert counts["patient"] == 11
    assert len({r["person_id"] for r in _read(dest / "patient.csv")}) == 11
    # every patient has coverage: payer_transitions covers all 11
    assert len({r["person_id"] for r in _read(dest / "eligibility.csv")}) == 11


def test_rows_written_per_table(sample):
    dest, counts = sample
    assert counts == {
        "patient": 11,
        "eligibility": 23,
        "encounter": 388,  # encounters.csv rows
        "condition": 273,  # conditions.csv rows
        "procedure": 889,  # procedures.csv rows
        "lab_result": 815,  # observations.csv CATEGORY laboratory
        "observation": 2475,  # 3626 observations - 815 laboratory - 336 QALY/DALY/QOLS
        "medication": 173,  # medications.csv rows
        "medical_claim": 1406,  # 1579 CHARGE lines - 173 lines of medication claims
        "provider_attribution": 1337,
    }
    assert not (dest / "pharmacy_claim.csv").exists()  # RxNorm only, no NDC
    for table, rows in counts.items():
        assert len(_read(dest / f"{table}.csv")) == rows


def test_medicaid_spans_with_uninsured_gaps_match_payer_transitions(sample):
    dest, _ = sample
    # 16 rows, contiguous rows of one payer merged; END_DATE is the next plan's first instant
    assert _spans(dest, MEDICAID_WITH_GAPS) == [
        ("2012-12-31", "2014-10-05", "Medicaid", "medicaid"),
        ("2014-10-06", "2015-01-04", "NO_INSURANCE", "self-pay"),
        ("2015-01-05", "2017-11-05", "Medicaid", "medicaid"),
        ("2017-11-06", "2017-12-31", "NO_INSURANCE", "self-pay"),
        ("2018-01-01", "2020-09-06", "Medicaid", "medicaid"),
        ("2020-09-07", "2021-01-03", "NO_INSURANCE", "self-pay"),
        ("2021-01-04", "2021-10-31", "Medicaid", "medicaid"),
        ("2021-11-01", "2022-01-02", "NO_INSURANCE", "self-pay"),
        ("2022-01-03", "2024-12-30", "Medicaid", "medicaid"),
    ]
    rows = [r for r in _read(dest / "eligibility.csv") if r["person_id"] == MEDICAID_WITH_GAPS]
    assert {r["gender"] for r in rows} == {"female"}
    assert {r["birth_date"] for r in rows} == {"1973-12-30"}
    assert {r["state"] for r in rows} == {"MA"}
    # the last span's member id and policy owner are those of its latest transition row
    last = max(rows, key=lambda r: r["enrollment_start_date"])
    assert last["member_id"] == "2e09f2cc-273e-3306-9c11-9b1fc3493c22"
    assert last["subscriber_relation"] == "spouse"
    assert all(r["social_security_number"] == "" for r in rows)


def test_coverage_ends_at_death(sample):
    dest, _ = sample
    # 9 Medicare rows 2013-09-24 .. 2022-09-20, patient died 2022-09-07
    assert _spans(dest, MEDICARE_DECEASED) == [
        ("2013-09-24", "2022-09-07", "Medicare", "medicare"),
    ]


def test_payer_types_follow_payer_names(sample):
    dest, _ = sample
    types = {(r["payer"], r["payer_type"]) for r in _read(dest / "eligibility.csv")}
    assert types == {
        ("Medicaid", "medicaid"),
        ("Medicare", "medicare"),
        ("NO_INSURANCE", "self-pay"),
        ("Humana", "commercial"),
        ("UnitedHealthcare", "commercial"),
    }


def test_encounter_types_follow_encounter_class(sample):
    dest, _ = sample
    counts = Counter(r["encounter_type"] for r in _read(dest / "encounter.csv"))
    # ENCOUNTERCLASS: ambulatory 187 + wellness 111 + outpatient 55 = 353 office visits
    assert counts == {
        "office visit": 353,
        "emergency department": 21,
        "acute inpatient": 10,
        "urgent care": 2,
        "snf": 1,
        "hospice": 1,
    }


def test_encounter_reason_is_a_snomed_primary_diagnosis(sample):
    dest, _ = sample
    rows = _read(dest / "encounter.csv")
    with_reason = [r for r in rows if r["primary_diagnosis_code"]]
    assert with_reason
    assert {r["primary_diagnosis_code_type"] for r in with_reason} == {"snomed-ct"}
    assert all(
        r["primary_diagnosis_code_type"] == "" for r in rows if not r["primary_diagnosis_code"]
    )


def test_observations_split_into_labs_and_other_observations(sample):
    dest, _ = sample
    labs = _read(dest / "lab_result.csv")
    assert {r["source_component_type"] for r in labs} == {"loinc"}
    assert {r["status"] for r in labs} == {"final"}
    observations = _read(dest / "observation.csv")
    assert Counter(r["observation_type"] for r in observations) == {
        "survey": 1646,
        "vital-signs": 742,
        "social-history": 86,
        "exam": 1,
    }
    assert not {"QALY", "DALY", "QOLS"} & {r["source_code"] for r in observations}
    systolic = [r for r in observations if r["source_code"] == "8480-6"]
    assert systolic and {r["source_units"] for r in systolic} == {"mm[Hg]"}


def test_claim_lines_carry_the_primary_payers_payments(sample):
    dest, _ = sample
    lines = [r for r in _read(dest / "medical_claim.csv") if r["claim_id"] == AMBULATORY_CLAIM]
    assert [int(r["claim_line_number"]) for r in lines] == [1, 2, 3, 4, 5]
    assert {r["claim_type"] for r in lines} == {"professional"}
    assert {r["payer"] for r in lines} == {"Medicare"}
    assert round(sum(float(r["charge_amount"]) for r in lines), 2) == 1811.15
    assert round(sum(float(r["paid_amount"]) for r in lines), 2) == 1262.52
    # SNOMED codes cannot go into ICD-10 or HCPCS columns: left empty, type null
    assert all(r["diagnosis_code_type"] == "" and r["diagnosis_code_1"] == "" for r in lines)
    assert all(r["hcpcs_code"] == "" for r in lines)


def test_claim_lines_never_end_before_they_start(sample):
    dest, _ = sample
    lines = _read(dest / "medical_claim.csv")
    # Synthea's TODATE 1970-01-01 on immunisation lines means "no end": one-day lines
    assert all(r["claim_line_end_date"] >= r["claim_line_start_date"] for r in lines)
    assert all(r["claim_end_date"] >= r["claim_start_date"] for r in lines)
    assert not [r for r in lines if r["claim_line_end_date"].startswith("1970")]


def test_claim_type_follows_encounter_type(sample):
    dest, _ = sample
    claims = _read(dest / "medical_claim.csv")
    stays = [r for r in claims if r["admission_date"]]
    assert stays and {r["claim_type"] for r in stays} == {"institutional"}
    by_type = Counter(r["claim_type"] for r in claims if r["claim_line_number"] == "1")
    # one claim per encounter: 33 = 21 emergency + 10 inpatient + 1 snf + 1 hospice
    assert by_type == {"professional": 355, "institutional": 33}


def test_conditions_are_snomed_with_stable_ids(sample, tmp_path):
    dest, _ = sample
    conditions = _read(dest / "condition.csv")
    assert {r["source_code_type"] for r in conditions} == {"snomed-ct"}
    assert len({r["condition_id"] for r in conditions}) == len(conditions)
    again = tmp_path / "again"
    convert_synthea(SYNTHEA_SAMPLE, again)
    assert (again / "condition.csv").read_bytes() == (dest / "condition.csv").read_bytes()


def test_medications_keep_rxnorm_codes(sample):
    dest, _ = sample
    meds = _read(dest / "medication.csv")
    assert all(r["rxnorm_code"] and r["rxnorm_code"] == r["source_code"] for r in meds)
    assert {r["source_code_type"] for r in meds} == {"rxnorm"}
    assert all(r["ndc_code"] == "" for r in meds)


def test_attribution_names_an_office_visit_practice(sample):
    dest, _ = sample
    attribution = _read(dest / "provider_attribution.csv")
    encounters = _read(dest / "encounter.csv")
    office_practices = {
        r["facility_name"] for r in encounters if r["encounter_type"] == "office visit"
    }
    assert {r["custom_attributed_provider_practice"] for r in attribution} <= office_practices
    # Synthea clinicians have no NPI, and the provider columns hold NPIs
    assert {r["custom_attributed_provider"] for r in attribution} == {""}
    assert all(re.fullmatch(r"\d{6}", r["year_month"]) for r in attribution)
    keys = [(r["person_id"], r["year_month"]) for r in attribution]
    assert len(keys) == len(set(keys))
    # the deceased member is attributed up to the month of death, not after
    months = [r["year_month"] for r in attribution if r["person_id"] == MEDICARE_DECEASED]
    assert (min(months), max(months)) == ("201309", "202209")


# --- the contract's shape, for both exports


@pytest.mark.parametrize("export", ["sample", "legacy"])
def test_every_file_has_exactly_the_contract_columns_in_order(export, request):
    dest, counts = request.getfixturevalue(export)
    written = sorted(p.stem for p in dest.glob("*.csv"))
    assert written == sorted(counts)
    for table in counts:
        assert _header(dest / f"{table}.csv") == list(TABLES[table].column_names), table


@pytest.mark.parametrize("export", ["sample", "legacy"])
def test_dates_and_timestamps_are_iso(export, request):
    dest, counts = request.getfixturevalue(export)
    for table in counts:
        columns = TABLES[table].columns
        rows = _read(dest / f"{table}.csv")
        for column in columns:
            values = {r[column.name] for r in rows} - {""}
            pattern = {"date": ISO_DATE, "timestamp": ISO_TIMESTAMP}.get(column.sql_type)
            if pattern:
                bad = [v for v in values if not pattern.match(v)]
                assert not bad, f"{table}.{column.name}: {bad[:3]}"


def test_files_are_rfc4180_and_load_with_duckdb(sample):
    dest, counts = sample
    raw = (dest / "patient.csv").read_bytes()
    assert raw.startswith(b"person_id,") and b"\r\n" in raw
    con = duckdb.connect()
    for table, rows in counts.items():
        path = str(dest / f"{table}.csv")
        loaded = con.execute(
            "select count(*) from read_csv($p, header = true, all_varchar = true, "
            "delim = ',', quote = '\"', escape = '\"')",
            {"p": path},
        ).fetchall()[0][0]
        assert loaded == rows, table
    assert (dest / "patient.csv").stat().st_mode & 0o777 == 0o600


# --- the older, year-based schema


def test_schema_version_is_read_from_the_header():
    assert payer_transitions_schema(["PATIENT", "START_YEAR", "END_YEAR", "PAYER"]) == "year-based"
    assert payer_transitions_schema(["PATIENT", "START_DATE", "END_DATE", "PAYER"]) == "date-based"
    with pytest.raises(ValueError, match="START_DATE/END_DATE"):
        payer_transitions_schema(["PATIENT", "PAYER"])


def test_year_based_export_gives_calendar_year_spans(legacy):
    dest, counts = legacy
    assert _spans(dest, "10000000-0000-4000-8000-00000000000a") == [
        ("2010-01-01", "2012-12-31", "Medicaid", "medicaid"),
        ("2013-01-01", "2013-12-31", "NO_INSURANCE", "self-pay"),
        ("2014-01-01", "2015-12-31", "Aetna", "commercial"),
    ]
    # overlapping switch-over years trimmed; coverage ends at death (2018-06-30)
    assert _spans(dest, "10000000-0000-4000-8000-00000000000b") == [
        ("2015-01-01", "2016-12-31", "Medicare", "medicare"),
        ("2017-01-01", "2018-06-30", "Dual Eligible", "dual"),
    ]
    # an uncovered year keeps two spans apart
    assert _spans(dest, "10000000-0000-4000-8000-00000000000c") == [
        ("2012-01-01", "2012-12-31", "Aetna", "commercial"),
        ("2014-01-01", "2014-12-31", "Aetna", "commercial"),
    ]
    assert counts["eligibility"] == 7


def test_year_based_and_date_based_exports_give_the_same_spans(tmp_path):
    year_based = convert_synthea(LEGACY, tmp_path / "year_based")
    src = _legacy_copy(tmp_path)
    shutil.copy(LEGACY / "date_based" / "payer_transitions.csv", src / "payer_transitions.csv")
    date_based = convert_synthea(src, tmp_path / "date_based")
    assert year_based["eligibility"] == date_based["eligibility"] == 7

    def spans(folder: str) -> list[tuple[str, ...]]:
        keys = ("person_id", "enrollment_start_date", "enrollment_end_date", "payer")
        keys += ("payer_type", "subscriber_relation", "gender", "birth_date", "death_date")
        rows = _read(tmp_path / folder / "eligibility.csv")
        return sorted(tuple(r[k] for k in keys) for r in rows)

    assert spans("year_based") == spans("date_based")
    # only the date-based export has member ids
    assert {r["member_id"] for r in _read(tmp_path / "year_based" / "eligibility.csv")} == {""}


def test_older_export_files_are_read_under_current_names(legacy):
    dest, counts = legacy
    # procedures.csv says DATE (before Synthea 3.0), observations.csv has no CATEGORY
    assert _read(dest / "procedure.csv")[0]["procedure_date"] == "2014-03-04"
    assert "lab_result" not in counts  # labs cannot be told from vitals without CATEGORY
    assert sorted(r["source_code"] for r in _read(dest / "observation.csv")) == ["8462-4", "8480-6"]
    assert "medical_claim" not in counts  # no claims files before Synthea 3.0
    types = {r["encounter_id"][-1]: r["encounter_type"] for r in _read(dest / "encounter.csv")}
    assert types == {"1": "office visit", "2": "home health", "3": "telehealth"}
    patients = {r["person_id"][-1]: r for r in _read(dest / "patient.csv")}
    assert patients["b"]["zip_code"] == "" and patients["b"]["death_flag"] == "1"
    assert patients["c"]["address"] == "3 Test Lane, Apt 4"


# --- refusing what is not a Synthea export


def test_a_folder_without_patients_csv_is_refused(tmp_path):
    (tmp_path / "eligibility.csv").write_text("person_id\n1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"patients\.csv"):
        convert_synthea(tmp_path, tmp_path / "out")


def test_a_tuva_extract_is_refused_by_name(tmp_path):
    tuva = REPO_ROOT.parent / "shared" / "data" / "tuva-synthetic-10"
    if not tuva.is_dir():
        pytest.skip(f"public Tuva sample not found at {tuva}")
    with pytest.raises(ValueError, match=r"patients\.csv, encounters\.csv"):
        convert_synthea(tuva, tmp_path / "out")


def test_a_missing_column_is_named(tmp_path):
    src = _legacy_copy(tmp_path)
    (src / "encounters.csv").write_text("Id,START,PATIENT\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"encounters\.csv: missing column\(s\) ENCOUNTERCLASS"):
        convert_synthea(src, tmp_path / "out")


def test_payer_transitions_without_dates_or_years_is_refused(tmp_path):
    src = _legacy_copy(tmp_path)
    (src / "payer_transitions.csv").write_text("PATIENT,PAYER\n", encoding="utf-8")
    with pytest.raises(ValueError, match="START_YEAR/END_YEAR"):
        convert_synthea(src, tmp_path / "out")


def test_unreadable_dates_are_refused_not_dropped(tmp_path):
    src = _legacy_copy(tmp_path)
    text = (src / "patients.csv").read_text(encoding="utf-8").replace("1950-02-03", "03/02/1950")
    (src / "patients.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"patients\.csv: unreadable values: 1 in BIRTHDATE"):
        convert_synthea(src, tmp_path / "out")


def test_stale_tables_from_an_earlier_conversion_are_removed(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "medical_claim.csv").write_text("claim_id\n", encoding="utf-8")
    (dest / "notes.txt").write_text("kept", encoding="utf-8")
    counts = convert_synthea(LEGACY, dest)
    assert "medical_claim" not in counts
    assert not (dest / "medical_claim.csv").exists()
    assert (dest / "notes.txt").exists()
    assert not list(dest.glob(".*.tmp"))


def test_a_failed_conversion_leaves_dest_as_it_was(tmp_path, monkeypatch):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "patient.csv").write_text("from an earlier conversion\n", encoding="utf-8")
    real_run_sql = adapter.run_sql

    def failing_run_sql(con, name, *args, **kwargs):
        if name.endswith("/observation"):
            raise RuntimeError("simulated failure")
        return real_run_sql(con, name, *args, **kwargs)

    monkeypatch.setattr(adapter, "run_sql", failing_run_sql)
    with pytest.raises(RuntimeError, match="simulated failure"):
        convert_synthea(LEGACY, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["patient.csv"]
    assert (dest / "patient.csv").read_text(encoding="utf-8") == "from an earlier conversion\n"


def test_dest_may_not_be_src(tmp_path):
    src = _legacy_copy(tmp_path)
    with pytest.raises(ValueError, match="DEST must differ from SRC"):
        convert_synthea(src, src)


def test_birth_dates_survive_as_dates(legacy):
    dest, _ = legacy
    births = {date.fromisoformat(r["birth_date"]) for r in _read(dest / "patient.csv")}
    assert births == {date(1950, 2, 3), date(1945, 6, 7), date(1980, 11, 12)}
