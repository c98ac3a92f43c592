"""Outreach assets end to end on the hand-built population: files, manifest, permissions,
determinism, counts-only metadata, lineage, and the SQL's portability."""

import csv
import hashlib
import json
import shutil
import stat

import duckdb
import pytest
from dagster import AssetKey, materialize
from dagster_duckdb import DuckDBResource

from pipelines.assets.outreach import (
    CORE_DEPS,
    FILES_KEY,
    LIST_KEY,
    SUPPRESSED_KEY,
    UPSTREAM_MARTS,
    build_outreach_assets,
)
from pipelines.outreach import CSV_COLUMNS
from pipelines.sql import read_sql, render
from tests.test_outreach_fixtures import AS_OF, INJECTION_NAME, PURPOSE, build_world

TEAMS_YML = """\
default_team: north
care_management_team: care_management
teams:
  - id: north
    practices: [PR01]
    coordinators: [{id: CA, capacity: 3}, {id: CB, capacity: 2}]
  - id: south
    practices: [PR02]
    coordinators: [{id: CC, capacity: 5}]
"""


@pytest.fixture(scope="module")
def template_warehouse(tmp_path_factory):
    """The population's warehouse, built once per module and copied by each test."""
    path = tmp_path_factory.mktemp("outreach") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    build_world(con)
    con.close()
    return path


@pytest.fixture
def run_outreach(tmp_path, monkeypatch, template_warehouse):
    """Materialise the three assets against a warehouse file; returns (out folder, run)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(template_warehouse, warehouse)
    teams = tmp_path / "teams.yml"
    teams.write_text(TEAMS_YML)
    monkeypatch.setenv("POPCARE_TEAMS", str(teams))
    monkeypatch.delenv("POPCARE_OUTREACH_RULES", raising=False)
    out = tmp_path / "out"

    def run():
        from pipelines.settings import PopcareSettings

        result = materialize(
            build_outreach_assets([]),
            resources={
                "settings": PopcareSettings(
                    input_dir=str(tmp_path), out_dir=str(out), as_of=AS_OF.isoformat()
                ),
                "duckdb": DuckDBResource(database=str(warehouse)),
            },
        )
        assert result.success
        return result

    return out / "outreach" / AS_OF.isoformat(), run


def _materialization_metadata(result):
    return {
        event.asset_key: event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }


def test_files_manifest_and_permissions(run_outreach):
    folder, run = run_outreach
    result = run()
    assert sorted(p.name for p in folder.iterdir()) == [
        "care_management.csv",
        "manifest.json",
        "north.csv",
        "north__overflow.csv",
        "south.csv",
    ]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    north = folder.joinpath("north.csv").read_bytes()
    assert north.startswith(b"\xef\xbb\xbf" + ",".join(CSV_COLUMNS).encode() + b"\r\n")
    lines = north[3:].decode("utf-8").split("\r\n")
    assert len(lines) == 1 + 5 + 1  # header, capacity 3 + 2, trailing CRLF
    assert lines[1].startswith('1,1,"00002",First00002,Last00002,1950-01-01,"6145500002",')
    # The injection patient: name and tab neutralised, phone kept as text with its '+'.
    injected = next(line for line in lines if '"00050"' in line)
    assert injected.startswith(
        '4,2,"00050","\'=HYPERLINK(""http://x"",""y"")",\'\tTabbed,1950-01-01,"\'+15550000050",'
    )
    # Read back as a spreadsheet would: no cell of any file starts a formula.
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], path.name
    assert "'" + INJECTION_NAME in north.decode("utf-8").replace('""', '"')

    manifest = json.loads(folder.joinpath("manifest.json").read_text())
    assert manifest["run_id"] == result.run_id
    assert manifest["as_of_date"] == "2026-09-30"
    assert manifest["model_version"] == ["test-1"]
    assert manifest["missing_upstream"] == []
    assert manifest["row_counts"] == {
        "care_management": 1,
        "north": 5,
        "north__overflow": 8,
        "south": 1,
    }
    assert manifest["suppressed_by_primary_reason"]["deceased"] == 3
    assert manifest["rows_by_priority_group"] == {"1": 3, "2": 11, "3": 1}
    for entry in manifest["files"]:
        data = folder.joinpath(entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["config"]["teams"]["file"] == "teams.yml"
    assert manifest["rules"]["recent_contact_days"] == 30


def test_two_runs_give_identical_bytes(run_outreach):
    folder, run = run_outreach
    first = run()
    before = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    manifest_before = json.loads(folder.joinpath("manifest.json").read_text())
    second = run()
    after = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    manifest_after = json.loads(folder.joinpath("manifest.json").read_text())
    assert before == after
    assert first.run_id != second.run_id
    assert manifest_before["files"] == manifest_after["files"]
    del manifest_before["run_id"], manifest_after["run_id"]
    assert manifest_before == manifest_after


def test_stale_files_of_an_earlier_run_are_removed(run_outreach):
    folder, run = run_outreach
    folder.mkdir(parents=True)
    (folder / "old_team.csv").write_text("stale")
    (folder / ".north.csv.deadbeef.tmp").write_text("interrupted")
    run()
    names = {p.name for p in folder.iterdir()}
    assert "old_team.csv" not in names and ".north.csv.deadbeef.tmp" not in names


def test_metadata_is_counts_only(run_outreach):
    _, run = run_outreach
    metadata = _materialization_metadata(run())
    assert set(metadata) == {SUPPRESSED_KEY, LIST_KEY, FILES_KEY}
    assert metadata[SUPPRESSED_KEY]["suppressed_primary_hospice"].value == 3
    assert metadata[LIST_KEY]["rows_team_north"].value == 13
    assert metadata[LIST_KEY]["over_capacity_team_north"].value == 8
    assert metadata[FILES_KEY]["rows_north__overflow"].value == 8
    text = json.dumps(
        {str(k): {n: str(v.value) for n, v in m.items()} for k, m in metadata.items()}
    )
    for pid in PURPOSE:
        assert pid not in text
    assert "First" not in text and "HYPERLINK" not in text and "CM9" not in text


def test_assets_keys_groups_and_deps():
    assets = build_outreach_assets(UPSTREAM_MARTS)
    by_key = {a.key: a for a in assets}
    assert set(by_key) == {SUPPRESSED_KEY, LIST_KEY, FILES_KEY}
    suppressed = by_key[SUPPRESSED_KEY]
    deps = {d.asset_key for d in suppressed.specs_by_key[SUPPRESSED_KEY].deps}
    assert set(CORE_DEPS) | set(UPSTREAM_MARTS) <= deps
    assert AssetKey(["staging", "registry"]) in deps
    assert suppressed.group_names_by_key[SUPPRESSED_KEY] == "marts"
    files = by_key[FILES_KEY]
    assert files.group_names_by_key[FILES_KEY] == "outreach"
    assert {d.asset_key for d in files.specs_by_key[FILES_KEY].deps} == {LIST_KEY}
    without = {d.asset_key for d in build_outreach_assets([])[0].specs_by_key[SUPPRESSED_KEY].deps}
    assert not set(UPSTREAM_MARTS) & without
    for asset in assets:
        assert asset.descriptions_by_key[asset.key]


@pytest.mark.parametrize(
    "name",
    [
        "marts/outreach_candidates",
        "marts/outreach_suppressed",
        "marts/outreach_list",
        "marts/outreach_list_input",
    ],
)
def test_outreach_sql_carries_to_spark_and_trino(name):
    sqlglot = pytest.importorskip("sqlglot")
    sql = render(
        read_sql(name),
        {"risk_scores": "marts.risk_scores", "measure_patient": "marts.measure_patient"},
    )
    table = name.split("/")[-1]
    if table != "outreach_list_input":
        assert read_sql(name).startswith(f"-- marts.{table} <-")
        assert f"create or replace table marts.{table} as" in sql
    for dialect in ("spark", "trino"):
        sqlglot.transpile(
            sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE
        )
