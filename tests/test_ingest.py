"""Raw loading: discovery, file-level faults, lineage, idempotency and all-or-nothing loads."""

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.contract import TABLES
from pipelines.ingest import (
    InputError,
    check_person_source,
    load_table,
    map_columns,
    take_inventory,
)

NOW = datetime(2026, 9, 30, 2, 0)


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _load(con, input_dir: Path, table: str, load_id: str = "L1"):
    files = take_inventory(input_dir).files[table]
    return load_table(con, table, files, load_id, NOW)


ELIG = "person_id,gender,birth_date,enrollment_start_date,enrollment_end_date,payer\n"


def test_inventory_reads_files_and_folders_and_lists_the_rest(tmp_path):
    _write(tmp_path / "eligibility.csv", ELIG + "1,female,1950-01-01,2024-01-01,2024-12-31,x\n")
    _write(tmp_path / "medical_claim" / "2024-01.csv", "claim_id\n")
    _write(tmp_path / "medical_claim" / "2024-02.csv", "claim_id\n")
    _write(tmp_path / "medical_claim" / "readme.txt", "notes")
    _write(tmp_path / "appointment.csv", "a\n")
    _write(tmp_path / "notes.md", "x")
    inventory = take_inventory(tmp_path)
    assert [f.relative for f in inventory.files["eligibility"]] == ["eligibility.csv"]
    assert [f.relative for f in inventory.files["medical_claim"]] == [
        "medical_claim/2024-01.csv",
        "medical_claim/2024-02.csv",
    ]
    assert inventory.files["patient"] == []
    assert sorted(inventory.ignored) == ["appointment.csv", "medical_claim/readme.txt", "notes.md"]


def test_nobody_to_score_is_a_clear_error(tmp_path):
    _write(tmp_path / "medical_claim.csv", "claim_id\n")
    with pytest.raises(InputError, match="neither eligibility nor patient"):
        check_person_source(take_inventory(tmp_path), tmp_path)


def test_missing_input_folder_names_the_flag(tmp_path):
    with pytest.raises(InputError, match="POPCARE_INPUT"):
        take_inventory(tmp_path / "absent")


def test_missing_required_column_names_table_file_and_column(tmp_path):
    _write(tmp_path / "eligibility.csv", "person_id,enrollment_start_date\n1,2024-01-01\n")
    with duckdb.connect() as con, pytest.raises(InputError) as info:
        _load(con, tmp_path, "eligibility")
    message = str(info.value)
    assert "eligibility.csv" in message
    assert "'eligibility'" in message
    assert "enrollment_end_date" in message


def test_semicolon_file_is_refused_with_the_fix(tmp_path):
    _write(
        tmp_path / "eligibility.csv",
        ELIG.replace(",", ";") + "1;f;1950-01-01;2024-01-01;2024-12-31;x\n",
    )
    with duckdb.connect() as con, pytest.raises(InputError, match=r"semicolon-separated.*commas"):
        _load(con, tmp_path, "eligibility")


def test_latin1_file_is_refused_with_the_fix(tmp_path):
    _write(
        tmp_path / "eligibility.csv",
        "person_id,last_name,enrollment_start_date,enrollment_end_date\n1,Muñoz,2024-01-01,2024-12-31\n",
        encoding="latin-1",
    )
    with duckdb.connect() as con, pytest.raises(InputError, match=r"not valid UTF-8.*iconv"):
        _load(con, tmp_path, "eligibility")


def test_rows_keep_lineage_and_unknown_columns_are_ignored(tmp_path):
    _write(
        tmp_path / "eligibility.csv",
        "PERSON_ID, Enrollment_Start_Date ,enrollment_end_date,favourite_colour\n"
        "001,2024-01-01,2024-06-30,blue\n"
        "002,2024-02-01,2024-12-31,red\n",
    )
    with duckdb.connect() as con:
        result = _load(con, tmp_path, "eligibility")
        rows = con.execute(
            "select person_id, enrollment_start_date, gender, _source_file, _load_id, _row_number "
            "from raw.eligibility order by _row_number"
        ).fetchall()
        columns = [d[0] for d in con.execute("select * from raw.eligibility limit 0").description]
    assert (result.rows_read, result.rows_loaded, result.rows_in_table) == (2, 2, 2)
    # Leading zeros survive: raw keeps text as received.
    assert rows == [
        ("001", "2024-01-01", None, "eligibility.csv", "L1", 1),
        ("002", "2024-02-01", None, "eligibility.csv", "L1", 2),
    ]
    assert "favourite_colour" not in columns
    assert columns[: len(TABLES["eligibility"].columns)] == list(TABLES["eligibility"].column_names)


def test_legacy_patient_id_is_read_as_person_id(tmp_path):
    _write(tmp_path / "patient.csv", "patient_id,birth_date\nA7,1960-05-05\n")
    with duckdb.connect() as con:
        _load(con, tmp_path, "patient")
        assert con.execute("select person_id, patient_id from raw.patient").fetchall() == [
            ("A7", "A7")
        ]


def test_map_columns_refuses_a_duplicated_header():
    with pytest.raises(InputError, match="appears twice"):
        map_columns(TABLES["registry"], ["person_id", "Person_ID"], "registry.csv")


def test_reloading_the_same_file_adds_nothing(tmp_path):
    _write(tmp_path / "eligibility.csv", ELIG + "1,f,1950-01-01,2024-01-01,2024-12-31,x\n")
    with duckdb.connect() as con:
        first = _load(con, tmp_path, "eligibility", "L1")
        second = _load(con, tmp_path, "eligibility", "L2")
        count = con.execute("select count(*) from raw.eligibility").fetchone()[0]
        logged = con.execute("select count(*) from audit.load_log").fetchone()[0]
    assert first.files_loaded == ["eligibility.csv"]
    assert second.files_loaded == [] and second.files_unchanged == ["eligibility.csv"]
    assert (count, logged) == (1, 1)


def test_a_changed_file_replaces_only_its_own_rows(tmp_path):
    _write(tmp_path / "eligibility" / "a.csv", ELIG + "1,f,1950-01-01,2024-01-01,2024-12-31,x\n")
    _write(tmp_path / "eligibility" / "b.csv", ELIG + "2,m,1951-01-01,2024-01-01,2024-12-31,x\n")
    with duckdb.connect() as con:
        _load(con, tmp_path, "eligibility", "L1")
        _write(
            tmp_path / "eligibility" / "b.csv",
            ELIG
            + "2,m,1951-01-01,2024-01-01,2025-12-31,x\n3,f,1990-01-01,2025-01-01,2025-12-31,y\n",
        )
        result = _load(con, tmp_path, "eligibility", "L2")
        rows = con.execute(
            "select person_id, enrollment_end_date, _source_file, _load_id from raw.eligibility "
            "order by person_id"
        ).fetchall()
    assert result.files_loaded == ["eligibility/b.csv"]
    assert result.files_unchanged == ["eligibility/a.csv"]
    assert rows == [
        ("1", "2024-12-31", "eligibility/a.csv", "L1"),
        ("2", "2025-12-31", "eligibility/b.csv", "L2"),
        ("3", "2025-12-31", "eligibility/b.csv", "L2"),
    ]


def test_a_failure_midway_leaves_the_previous_state(tmp_path):
    _write(tmp_path / "eligibility" / "a.csv", ELIG + "1,f,1950-01-01,2024-01-01,2024-12-31,x\n")
    with duckdb.connect() as con:
        _load(con, tmp_path, "eligibility", "L1")
        # A new version of a.csv loads fine, then b.csv fails: neither may take effect.
        _write(
            tmp_path / "eligibility" / "a.csv", ELIG + "9,f,1950-01-01,2024-01-01,2024-12-31,x\n"
        )
        _write(tmp_path / "eligibility" / "b.csv", "person_id,gender\n2,m\n")
        with pytest.raises(InputError, match="enrollment_start_date"):
            _load(con, tmp_path, "eligibility", "L2")
        rows = con.execute("select person_id, _load_id from raw.eligibility").fetchall()
        log = con.execute("select load_id, source_file from audit.load_log").fetchall()
    assert rows == [("1", "L1")]
    assert log == [("L1", "eligibility/a.csv")]


def test_parquet_files_load_with_row_numbers(tmp_path):
    frame = pl.DataFrame(
        {
            "person_id": ["10", "11", "12"],
            "program": ["cm", "cm", None],
            "opted_out": [False, True, None],
            "last_outreach_date": pl.Series(["2026-01-05", None, "2026-02-01"]).str.to_date(),
        }
    )
    frame.write_parquet(tmp_path / "registry.parquet")
    with duckdb.connect() as con:
        result = _load(con, tmp_path, "registry")
        rows = con.execute(
            "select person_id, opted_out, last_outreach_date, _row_number from raw.registry "
            "order by _row_number"
        ).fetchall()
    assert result.rows_loaded == 3
    assert rows == [
        ("10", "false", "2026-01-05", 1),
        ("11", "true", None, 2),
        ("12", None, "2026-02-01", 3),
    ]


def test_absent_table_gives_an_empty_raw_table(tmp_path):
    with duckdb.connect() as con:
        result = load_table(con, "medication", [], "L1", NOW)
        count = con.execute("select count(*) from raw.medication").fetchone()[0]
    assert (result.rows_in_table, count) == (0, 0)


def test_tuva_sample_loads_every_row(tuva_dir):
    expected = {
        "eligibility": 31,
        "medical_claim": 2075,
        "pharmacy_claim": 291,
        "lab_result": 1162,
        "observation": 2917,
        "provider_attribution": 2,
    }
    with duckdb.connect() as con:
        for table, rows in expected.items():
            assert _load(con, tuva_dir, table).rows_loaded == rows
        # LOINC codes of labs sit in source_order_code in this sample (shared/data/README.md).
        hba1c = con.execute(
            "select count(*) from raw.lab_result where source_order_code = '4548-4'"
        ).fetchone()[0]
    assert hba1c > 0
