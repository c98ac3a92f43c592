"""The popcare command line: help, flags over environment, exit status and messages."""

import duckdb
from click.testing import CliRunner

from pipelines.cli import build_run_config, main


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "train", "generate", "convert", "status", "contract"):
        assert f"  {command} " in result.output


def test_run_help_lists_every_flag_and_its_variable():
    result = CliRunner().invoke(main, ["run", "--help"])
    for flag, env in (
        ("--input", "POPCARE_INPUT"),
        ("--out", "POPCARE_OUT"),
        ("--warehouse", "POPCARE_WAREHOUSE"),
        ("--as-of", "POPCARE_AS_OF"),
        ("--measurement-year", "POPCARE_MEASUREMENT_YEAR"),
    ):
        assert flag in result.output and env in result.output


def test_train_help_lists_its_flags():
    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    for flag in ("--input", "--warehouse", "--as-of"):
        assert flag in result.output


def test_flags_override_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("POPCARE_INPUT", str(tmp_path / "env_in"))
    monkeypatch.setenv("POPCARE_AS_OF", "2025-01-31")
    monkeypatch.setenv("POPCARE_WAREHOUSE", str(tmp_path / "env.duckdb"))
    config = build_run_config(str(tmp_path / "flag_in"), None, None, "2025-06-30", "rolling")
    settings = config["resources"]["settings"]["config"]
    assert settings["input_dir"] == str(tmp_path / "flag_in")
    assert settings["as_of"] == "2025-06-30"
    assert settings["measurement_year"] == "rolling"
    assert config["resources"]["duckdb"]["config"]["database"] == str(tmp_path / "env.duckdb")
    env_only = build_run_config(None, None, None, None, None)
    assert env_only["resources"]["settings"]["config"]["input_dir"] == str(tmp_path / "env_in")
    assert env_only["resources"]["settings"]["config"]["as_of"] == "2025-01-31"


def test_bad_as_of_is_a_usage_error_before_anything_runs(dagster_home):
    result = CliRunner().invoke(main, ["run", "--as-of", "31/12/2025"])
    assert result.exit_code == 2
    assert "not an ISO date" in result.output


def test_run_on_the_tuva_sample_loads_raw_and_records_the_run(tuva_dir, tmp_path, dagster_home):
    warehouse = tmp_path / "w.duckdb"
    args = ["run", "--input", str(tuva_dir), "--warehouse", str(warehouse), "--as-of", "2018-12-31"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.medical_claim").fetchone()[0] == 2075
        assert con.execute("select count(*) from raw.eligibility").fetchone()[0] == 31
        assert (
            con.execute("select count(distinct table_name) from audit.load_log").fetchone()[0] == 6
        )
    status = CliRunner().invoke(main, ["status"])
    assert "nightly" in status.output and "SUCCESS" in status.output


def test_failed_run_exits_non_zero_and_says_what_and_where(tmp_path, dagster_home):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "eligibility.csv").write_text("person_id,gender\n1,f\n")
    result = CliRunner().invoke(
        main,
        ["run", "--input", str(tmp_path / "in"), "--warehouse", str(tmp_path / "w.duckdb")],
    )
    assert result.exit_code == 1
    assert "raw/eligibility" in result.output
    assert "eligibility.csv" in result.output and "enrollment_start_date" in result.output


def test_convert_synthea_then_run_it(tmp_path, dagster_home):
    from tests.conftest import SYNTHEA_SAMPLE

    if not SYNTHEA_SAMPLE.is_dir():
        import pytest

        pytest.skip(f"public Synthea sample not found at {SYNTHEA_SAMPLE}")
    dest = tmp_path / "contract"
    converted = CliRunner().invoke(main, ["convert", "synthea", str(SYNTHEA_SAMPLE), str(dest)])
    assert converted.exit_code == 0, converted.output
    assert "patient                        11 rows" in converted.output
    warehouse = tmp_path / "w.duckdb"
    ran = CliRunner().invoke(
        main,
        [
            "run",
            "--input",
            str(dest),
            "--warehouse",
            str(warehouse),
            "--as-of",
            "2024-12-31",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert ran.exit_code == 0, ran.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from staging.patient").fetchone()[0] == 11
        assert con.execute("select count(*) from audit.quarantine").fetchone()[0] == 0


def test_convert_refuses_a_folder_that_is_not_synthea(tmp_path):
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(
        main, ["convert", "synthea", str(tmp_path / "src"), str(tmp_path / "d")]
    )
    assert result.exit_code == 1
    assert "patients.csv" in result.output
