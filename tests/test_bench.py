"""The benchmark suite: stage attribution and profiles by hand, and the quick 10k mode as a smoke test
(no timing is asserted: CI machines differ; docs/benchmarks.md holds measured figures)."""

import json
import subprocess
import sys
from datetime import date
from types import SimpleNamespace

import duckdb
import pytest

from bench.bench_nightly import stage_of, stage_profile, step_intervals
from bench.run import growth, table
from pipelines.settings import REPO_ROOT
from tests.core_fixtures import make_staging


@pytest.mark.parametrize(
    ("step", "stage"),
    [
        ("raw__medical_claim", "ingest"),
        ("raw__input_inventory", "ingest"),
        ("staging__medical_claim_contract_suite", "ingest"),
        ("audit__data_quality_report", "report"),
        ("core__encounter", "core"),
        ("core__encounter_row_count_drop", "core"),
        ("marts__readmission_index_stays", "readmissions"),
        ("marts__readmission_rates_overall_rate_within_sanity_band", "readmissions"),
        ("marts__measure_patient", "measures"),
        ("marts__risk_features", "features"),
        ("models__risk_model", "training"),
        ("marts__risk_scores", "scoring"),
        ("marts__outreach_suppressed", "outreach"),
        ("outreach__outreach_files", "outreach"),
        ("report__run_report", "report"),
    ],
)
def test_every_step_belongs_to_its_stage(step, stage):
    assert stage_of(step) == stage


def _record(kind, step, timestamp):
    event = SimpleNamespace(event_type_value=kind, step_key=step)
    return SimpleNamespace(dagster_event=event, timestamp=timestamp)


def test_stage_profile_sums_steps_and_interpolates_cpu():
    records = [
        SimpleNamespace(dagster_event=None, timestamp=0.0),  # a plain log line
        _record("STEP_START", "raw__patient", 10.0),
        _record("STEP_SUCCESS", "raw__patient", 12.0),
        _record("STEP_START", "staging__patient", 12.0),
        _record("STEP_SUCCESS", "staging__patient", 15.0),
        _record("STEP_START", "core__person", 15.0),
        _record("STEP_FAILURE", "core__person", 16.0),
    ]
    spans = step_intervals(records)
    assert spans == [
        ("raw__patient", 10.0, 12.0),
        ("staging__patient", 12.0, 15.0),
        ("core__person", 15.0, 16.0),
    ]
    # (wall, cpu, rss MiB): one CPU second per wall second, memory peaks inside the core step.
    samples = [(t, t - 10.0, 100.0) for t in (10.0, 11.0, 13.0, 14.0, 16.0)]
    samples.append((15.5, 5.5, 900.0))
    samples.sort()
    profile = stage_profile(spans, samples)
    assert list(profile) == ["ingest", "core"]
    assert profile["ingest"] == {
        "seconds": 5.0,
        "cpu_seconds": 5.0,
        "peak_rss_mib": 100.0,
        "steps": 2,
    }
    assert profile["core"] == {
        "seconds": 1.0,
        "cpu_seconds": 1.0,
        "peak_rss_mib": 900.0,
        "steps": 1,
    }


def _result(patients, seconds):
    return {
        "patients": patients,
        "stages": {"ingest": {"seconds": seconds / 2}, "core": {"seconds": seconds / 2}},
        "nightly_seconds_excluding_training": seconds,
        "job_cpu_seconds": seconds * 1.5,
        "peak_rss_mib": 2048,
        "patients_per_second": patients / seconds,
        "duckdb_read_floor_seconds": seconds / 4,
        "nightly_to_floor_ratio": 4.0,
    }


def test_table_and_growth_ratio():
    results = [_result(100_000, 60.0), _result(1_000_000, 540.0)]
    text = table(results)
    assert text.splitlines()[0].startswith("| patients | ingest s | core s | nightly s")
    assert "| 1,000,000 | 270.0 | 270.0 | 540.0 | 810 | 2.0 | 1,852 | 135.0 | 4.0 |" in text
    assert growth(results) == ["1,000,000 vs 100,000 patients (10x): nightly time x9.0"]


@pytest.mark.slow
def test_quick_mode_runs_the_nightly_job_at_10k(tmp_path):
    """`make bench-quick` in small: generate (or reuse) 10k patients, run the nightly job, record
    every stage. Asserts completeness and real row counts, never timings."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--sizes",
            "10000",
            "--quick",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(tmp_path / "results"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = (tmp_path / "results").glob("nightly-10000-*.json")
    result = json.loads(path.read_text())
    assert result["success"], result["failed_steps"]
    stages = result["stages"]
    assert set(stages) == {
        "ingest",
        "core",
        "readmissions",
        "measures",
        "features",
        "training",
        "scoring",
        "outreach",
        "report",
    }
    manifest = json.loads(
        (
            REPO_ROOT / "data" / "generated" / "10000-20260930-parquet" / "generator_manifest.json"
        ).read_text()
    )
    # Ingest writes raw and staging: every input row twice, less the few the generator's edge
    # cases send to quarantine (a stay ending the day after the as-of date).
    assert 1.999 * result["input_rows"] <= stages["ingest"]["rows_out"] <= 2 * result["input_rows"]
    assert result["input_rows"] == sum(manifest["row_counts"].values())
    assert stages["scoring"]["rows_out"] == stages["features"]["rows_out"] > 5_000
    assert result["duckdb_read_floor_seconds"] > 0
    assert result["peak_rss_mib"] > 100
    assert "| 10,000 |" in done.stdout


def test_core_profile_rebuilds_each_table_and_reports_its_rows(tmp_path):
    from bench.bench_core import profile

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    make_staging(
        con,
        eligibility=[
            {
                "person_id": "A",
                "enrollment_start_date": "2024-01-01",
                "enrollment_end_date": "2024-06-30",
                "payer_type": "medicare",
            }
        ],
    )
    con.close()
    tables = ["medical_claim_adjudication", "medical_claim_final", "person", "member_months"]
    results = profile(tmp_path / "w.duckdb", date(2024, 12, 31), tables, "1GB")
    assert [(r["table"], r["rows"], r["error"]) for r in results] == [
        ("medical_claim_adjudication", 0, None),
        ("medical_claim_final", 0, None),
        ("person", 1, None),
        ("member_months", 6, None),
    ]
    assert all(r["peak_rss_mib"] > 0 for r in results)
