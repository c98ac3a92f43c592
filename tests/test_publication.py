"""The publication gate: sanity bands, row-count drop, the checks' wiring, the latest pointer, and a
failing blocking check keeping the previous outreach lists in place (issue 8)."""

import json
import shutil
import stat
from datetime import date, datetime

import duckdb
import pytest
from click.testing import CliRunner
from dagster import AssetKey, AssetSelection, DagsterInstance, DagsterRunStatus

from pipelines.cli import main
from pipelines.definitions import defs
from pipelines.measures import load_measures
from pipelines.outreach import read_latest_pointer, write_latest_pointer
from pipelines.publication import (
    GATED_TABLES,
    READMISSION_BAND_ID,
    PreviousCount,
    SanityBand,
    SanityBandError,
    judge_row_drop,
    load_sanity_bands,
    measure_band_outcomes,
    parse_sanity_bands,
    previous_row_count,
    readmission_band_outcome,
    record_row_counts,
    row_drop_outcome,
)
from pipelines.settings import SAMPLE_AS_OF, SAMPLE_DIR, SettingsError, parse_max_row_drop

AS_OF = date(2026, 9, 30)

# --------------------------------------------------------------------------------------------
# Sanity bands


def _rates_table(con, rows):
    """marts.measure_rates with the columns the band check reads; rows are
    (measure_id, stratum, denominator, exclusions, rate, rate_unit)."""
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.measure_rates (measure_id varchar, period_start date, "
        "period_end date, stratum varchar, stratum_value varchar, denominator double, "
        "exclusions double, numerator double, rate double, rate_unit varchar, "
        "higher_is_better boolean)"
    )
    for measure_id, stratum, denominator, exclusions, rate, unit in rows:
        con.execute(
            "insert into marts.measure_rates values (?, date '2026-01-01', date '2026-12-31', ?, "
            "'all', ?, ?, null, ?, ?, true)",
            [measure_id, stratum, denominator, exclusions, rate, unit],
        )


BANDS = {
    "inside": SanityBand("inside", 0.10, 0.90),
    "low": SanityBand("low", 0.10, 0.90),
    "high": SanityBand("high", 0.10, 0.90),
    "edge": SanityBand("edge", 0.10, 0.90),
    "small": SanityBand("small", 0.10, 0.90, min_denominator=30),
    "visits": SanityBand("visits", 20, 1500, "per_1000_member_years"),
    "visits_high": SanityBand("visits_high", 20, 1500, "per_1000_member_years"),
    READMISSION_BAND_ID: SanityBand(READMISSION_BAND_ID, 0.02, 0.35),
}


def test_rates_inside_outside_and_below_the_minimum_denominator():
    con = duckdb.connect()
    _rates_table(
        con,
        [
            ("inside", "overall", 100, 0, 0.50, "proportion"),
            ("inside", "sex", 40, 0, 0.99, "proportion"),  # strata are not judged
            ("low", "overall", 100, 0, 0.05, "proportion"),
            ("high", "overall", 100, 0, 0.95, "proportion"),
            ("edge", "overall", 100, 0, 0.90, "proportion"),  # the bound itself is inside
            # 40 in the denominator but 12 excluded: 28 eligible < 30, skipped however far out.
            ("small", "overall", 40, 12, 1.0, "proportion"),
            ("visits", "overall", 900.5, 0, 283.0, "per_1000_member_years"),
            ("visits_high", "overall", 900.5, 0, 2500.0, "per_1000_member_years"),
            ("unbanded", "overall", 100, 0, 0.5, "proportion"),
        ],
    )
    outcomes = {o.measure_id: o for o in measure_band_outcomes(con, BANDS)}
    assert {k: o.status for k, o in outcomes.items()} == {
        "inside": "inside",
        "low": "outside",
        "high": "outside",
        "edge": "inside",
        "small": "skipped",
        "visits": "inside",
        "visits_high": "outside",
        "unbanded": "no_band",
    }
    assert [k for k, o in outcomes.items() if not o.passed] == ["high", "low", "visits_high"]
    assert outcomes["small"].eligible == 28
    assert "28 eligible, below the minimum of 30" in outcomes["small"].reason
    assert outcomes["low"].reason == "low: 5.0% (band 10% to 90%) is outside its band"
    assert outcomes["visits_high"].reason.startswith("visits_high: 2,500.0 per 1,000 member years")


def test_a_rate_in_another_unit_than_its_band_fails():
    con = duckdb.connect()
    _rates_table(con, [("inside", "overall", 100, 0, 283.0, "per_1000_member_years")])
    (outcome,) = measure_band_outcomes(con, BANDS)
    assert not outcome.passed
    assert "per_1000_member_years but its band is in proportion" in outcome.reason


def _readmissions(con, index_stays, rate):
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.readmission_rates as select 'overall' as grouping, "
        "'all' as group_value, ? as index_stays, 0 as readmissions, ? as rate",
        [index_stays, rate],
    )


@pytest.mark.parametrize(
    ("index_stays", "rate", "status"),
    [(382, 0.126, "inside"), (382, 0.50, "outside"), (382, 0.0, "outside"), (12, 0.5, "skipped")],
)
def test_readmission_rate_band(index_stays, rate, status):
    con = duckdb.connect()
    _readmissions(con, index_stays, rate)
    assert readmission_band_outcome(con, BANDS).status == status


def test_the_shipped_bands_cover_every_measure_and_hold_on_the_sample_rates():
    bands = load_sanity_bands()
    measures = {m.id: m for m in load_measures()}
    assert set(bands) == set(measures) | {READMISSION_BAND_ID}
    for measure_id, measure in measures.items():
        assert bands[measure_id].rate_unit == measure.rate_unit, measure_id
    # Rates seen on the sample and on generated populations (issue 8) sit inside their bands.
    seen = {
        "cms122": 0.17,
        "cms165": 0.65,
        "cms125": 0.66,
        "cms130": 0.59,
        "ked": 0.24,
        "spd": 0.66,
        "pdc_diabetes": 0.80,
        "pdc_statins": 0.86,
        "fu_discharge_7": 0.58,
        "fu_discharge_14": 0.65,
        "edu": 283.0,
        READMISSION_BAND_ID: 0.126,
    }
    for measure_id, rate in seen.items():
        band = bands[measure_id]
        assert band.low <= rate <= band.high, measure_id
    assert bands["ked"].high >= 0.35  # KED is expected to rise to about 35%


def test_a_malformed_bands_file_is_refused_with_the_row():
    header = "measure_id,low,high,rate_unit,min_denominator\n"
    with pytest.raises(SanityBandError, match=r"data row 1.*low <= high"):
        parse_sanity_bands(header + "x,0.9,0.1,proportion,30\n")
    with pytest.raises(SanityBandError, match="rate_unit"):
        parse_sanity_bands(header + "x,0.1,0.9,percent,30\n")
    with pytest.raises(SanityBandError, match="repeated"):
        parse_sanity_bands(header + "x,0.1,0.9,proportion,30\nx,0.1,0.9,proportion,30\n")
    with pytest.raises(SanityBandError, match="columns"):
        parse_sanity_bands("measure,low,high\n")
    parsed = parse_sanity_bands("# a comment\n" + header + "x,0.1,0.9,proportion,\n")
    assert parsed["x"] == SanityBand("x", 0.1, 0.9, "proportion", 0)


# --------------------------------------------------------------------------------------------
# Row-count drop


def _previous(rows):
    return PreviousCount(row_count=rows, as_of=AS_OF, run_id="r0")


@pytest.mark.parametrize(
    ("previous", "current", "max_drop", "passed"),
    [
        (100, 50, 0.5, True),  # exactly the limit passes
        (100, 49, 0.5, False),  # above it fails
        (10, 7, 0.3, True),  # exact in decimal, not in binary floating point
        (10, 6, 0.3, False),
        (100, 150, 0.0, True),  # growth always passes
        (100, 100, 0.0, True),
        (100, 99, 0.0, False),
        (0, 0, 0.5, True),  # nothing before: nothing to lose
        (5, 0, 1.0, True),  # a limit of 1 allows an empty table
    ],
)
def test_row_drop_threshold(previous, current, max_drop, passed):
    outcome = judge_row_drop("staging.x", current, _previous(previous), max_drop)
    assert outcome.passed is passed


def test_first_run_passes_with_no_previous_run():
    outcome = judge_row_drop("staging.x", 0, None, 0.5)
    assert outcome.passed and outcome.drop is None
    assert outcome.reason == "staging.x: no previous run to compare with"


def _table(con, rows):
    con.execute("create schema if not exists staging")
    con.execute("create or replace table staging.x as select range as id from range(?)", [rows])


def test_row_drop_against_the_counts_recorded_by_the_last_published_run():
    con = duckdb.connect()
    _table(con, 100)
    first = row_drop_outcome(con, "staging", "x", 0.5)
    assert first.passed and first.previous is None
    tables = [("staging", "x"), ("core", "not_built")]
    assert record_row_counts(con, "run-1", AS_OF, tables, datetime(2026, 9, 30, 2)) == {
        "staging.x": 100
    }
    _table(con, 50)
    exactly = row_drop_outcome(con, "staging", "x", 0.5)
    assert exactly.passed and exactly.drop == 0.5 and exactly.previous.run_id == "run-1"
    _table(con, 49)
    above = row_drop_outcome(con, "staging", "x", 0.5)
    assert not above.passed
    assert above.reason == (
        "staging.x: 49 rows, 51.0% fewer than the 100 of the last published run "
        "(as of 2026-09-30); the limit is 50% (POPCARE_MAX_ROW_DROP)"
    )
    # A table that is gone counts as empty: a 100% drop.
    con.execute("drop table staging.x")
    assert not row_drop_outcome(con, "staging", "x", 0.5).passed


def test_recording_replaces_the_same_date_and_the_newest_record_wins():
    con = duckdb.connect()
    _table(con, 10)
    record_row_counts(con, "run-1", AS_OF, [("staging", "x")], datetime(2026, 9, 30, 2))
    _table(con, 12)
    record_row_counts(con, "run-2", AS_OF, [("staging", "x")], datetime(2026, 9, 30, 3))
    rows = con.execute("select run_id, row_count from audit.row_counts").fetchall()
    assert rows == [("run-2", 12)]  # one row per as-of date and table: re-runs do not grow it
    _table(con, 20)
    record_row_counts(con, "run-3", date(2026, 10, 1), [("staging", "x")], datetime(2026, 10, 1))
    assert previous_row_count(con, "staging.x") == PreviousCount(20, date(2026, 10, 1), "run-3")
    assert con.execute("select count(*) from audit.row_counts").fetchone()[0] == 2


def test_max_row_drop_setting():
    assert parse_max_row_drop(None) == parse_max_row_drop("") == 0.5
    assert parse_max_row_drop(" 0.05 ") == 0.05
    for bad in ("1.5", "-0.1", "half", "nan"):
        with pytest.raises(SettingsError, match="POPCARE_MAX_ROW_DROP"):
            parse_max_row_drop(bad)


# --------------------------------------------------------------------------------------------
# Wiring: every check blocks, and blocks the lists


def test_every_check_is_blocking_and_gates_the_outreach_lists():
    graph = defs.resolve_asset_graph()
    checks = list(graph.asset_check_keys)
    specs = {spec.key: spec for checks_def in defs.asset_checks for spec in checks_def.check_specs}
    assert set(specs) == set(checks)
    assert all(spec.blocking for spec in specs.values())
    names = {(k.asset_key.to_user_string(), k.name) for k in checks}
    assert ("marts/measure_rates", "rates_within_sanity_bands") in names
    assert ("marts/readmission_rates", "overall_rate_within_sanity_band") in names
    for schema, table in GATED_TABLES:
        assert (f"{schema}/{table}", "row_count_drop") in names
    for published in (["outreach", "outreach_files"], ["marts", "outreach_list"]):
        upstream = AssetSelection.assets(AssetKey(published)).upstream().resolve(graph)
        assert {k.asset_key for k in checks} <= upstream, published


def test_latest_pointer_is_owner_only_and_names_the_folder(tmp_path):
    assert read_latest_pointer(tmp_path) is None
    folder = tmp_path / "outreach" / "2026-09-30"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    pointer = write_latest_pointer(tmp_path, AS_OF, "run-1", folder / "manifest.json")
    assert pointer == tmp_path / "outreach" / "latest.json"
    assert stat.S_IMODE(pointer.stat().st_mode) == 0o600
    latest = read_latest_pointer(tmp_path)
    assert latest["folder"] == latest["as_of_date"] == "2026-09-30"
    assert latest["run_id"] == "run-1" and len(latest["manifest_sha256"]) == 64


# --------------------------------------------------------------------------------------------
# A failing blocking check keeps the previous outreach lists in place


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_failing_blocking_check_keeps_the_previous_lists(
    sample_nightly, tmp_path, dagster_home, monkeypatch
):
    # The first run: the session's nightly run on the sample published its lists. Work on a copy
    # of its warehouse, registered model and outputs.
    assert sample_nightly.result.success
    warehouse, out = tmp_path / "w.duckdb", tmp_path / "out"
    shutil.copy(sample_nightly.warehouse, warehouse)
    models = sample_nightly.warehouse.parent / f"{sample_nightly.warehouse.name}.models"
    shutil.copytree(models, tmp_path / "w.duckdb.models")
    shutil.copytree(sample_nightly.out, out)
    day = SAMPLE_AS_OF.isoformat()
    published = out / "outreach" / day
    before = _snapshot(published)
    latest_before = (out / "outreach" / "latest.json").read_bytes()
    assert json.loads(latest_before)["folder"] == day
    assert {"manifest.json", "north.csv"} <= set(before)

    # The second run: the same extract, but the pharmacy claims file lost 30% of its rows, and
    # the gate allows 20%.
    extract = tmp_path / "extract"
    shutil.copytree(SAMPLE_DIR, extract)
    claims = extract / "pharmacy_claim.parquet"
    with duckdb.connect() as con:
        total = con.execute("select count(*) from read_parquet(?)", [str(claims)]).fetchone()[0]
        kept = int(total * 0.7)
        con.execute(
            f"copy (select * from read_parquet('{SAMPLE_DIR / 'pharmacy_claim.parquet'}') "
            f"limit {kept}) to '{claims}' (format parquet)"
        )
    monkeypatch.setenv("POPCARE_MAX_ROW_DROP", "0.2")
    args = ["run", "--input", str(extract), "--warehouse", str(warehouse), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--as-of", day])

    assert result.exit_code == 1, result.output
    with DagsterInstance.get() as instance:
        (record,) = instance.get_run_records(limit=1)
    assert record.dagster_run.status == DagsterRunStatus.FAILURE
    assert (
        f"check staging/pharmacy_claim row_count_drop failed: staging.pharmacy_claim: {kept:,} "
        f"rows, 30.0% fewer than the {total:,} of the last published run (as of {day}); "
        "the limit is 20% (POPCARE_MAX_ROW_DROP)"
    ) in result.output
    assert f"outreach lists not published; previous lists (as_of {day}) stay" in result.output
    assert "checks:" in result.output and "1 failed" in result.output
    # The lists of the first run are untouched, and latest.json still names them.
    assert _snapshot(published) == before
    assert (out / "outreach" / "latest.json").read_bytes() == latest_before
    assert sorted(p.name for p in (out / "outreach").iterdir()) == [day, "latest.json"]
    # Nothing downstream of the failed check ran: the published run's counts are still the
    # reference for the next run.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (recorded,) = con.execute(
            "select row_count from audit.row_counts where table_name = 'staging.pharmacy_claim'"
        ).fetchone()
    assert recorded == total
