"""The whole nightly job on the bundled sample, through Dagster's Python API."""

import json

import duckdb
import pytest
from conftest import run_nightly_on_sample as _run

from pipelines.contract import TABLES
from pipelines.settings import SAMPLE_AS_OF, SAMPLE_DIR


def _counts(warehouse) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('raw', 'staging', 'core', 'marts', 'audit') order by 1"
        ).fetchall()
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}


@pytest.fixture(scope="module")
def nightly(sample_nightly):
    return sample_nightly.work, sample_nightly.result


def test_the_nightly_job_succeeds_and_every_check_passes(nightly):
    _, result = nightly
    assert result.success
    evaluations = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert len(evaluations) == 3 * len(TABLES) + 14 + 2  # + row drop per core table, 2 bands
    assert all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]


def test_every_sample_row_reaches_staging(nightly):
    work, _ = nightly
    manifest = json.loads((SAMPLE_DIR / "generator_manifest.json").read_text())
    counts = _counts(work / "warehouse.duckdb")
    for table, rows in manifest["row_counts"].items():
        assert counts[f"raw.{table}"] == rows, table
        # The committed sample carries no planted faults: nothing is quarantined.
        assert counts[f"staging.{table}"] == rows, table
    assert counts["audit.quarantine"] == 0


def test_core_holds_the_sample_population(nightly):
    work, _ = nightly
    patients = json.loads((SAMPLE_DIR / "generator_manifest.json").read_text())["arguments"]
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from core.person").fetchone()[0] == patients["patients"]
        stays, transfers = con.execute(
            "select count(*), count(*) filter (where is_transfer_out) from core.inpatient_stay"
        ).fetchone()
        last_discharge = con.execute(
            "select max(discharge_date) from core.inpatient_stay"
        ).fetchone()[0]
        types = dict(
            con.execute("select encounter_type, count(*) from core.encounter group by 1").fetchall()
        )
    assert stays > 100 and transfers > 0
    assert last_discharge <= SAMPLE_AS_OF
    assert {"acute_inpatient", "emergency_department", "office"} <= set(types)


def test_outputs_are_written(nightly):
    work, _ = nightly
    report = work / "out" / "data-quality" / SAMPLE_AS_OF.isoformat() / "index.html"
    assert report.is_file()
    assert "Data quality, as of 2026-09-30" in report.read_text(encoding="utf-8")


def test_running_again_on_the_same_files_changes_no_row_count(nightly):
    work, _ = nightly
    before = _counts(work / "warehouse.duckdb")
    again = _run(work / "warehouse.duckdb", work / "out")
    assert again.success
    after = _counts(work / "warehouse.duckdb")
    # audit.contract_results gains one row per suite per run; everything else is unchanged.
    before.pop("audit.contract_results")
    grew = after.pop("audit.contract_results")
    assert after == before
    assert grew == 2 * len(TABLES)
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        statuses = con.execute("select count(*) from audit.load_log").fetchone()[0]
    assert statuses == sum(1 for t in TABLES if (SAMPLE_DIR / f"{t}.parquet").exists())
