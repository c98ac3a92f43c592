"""Core assets: lineage matches what each SQL file reads; a materialisation on a tiny fixture."""

import re

import duckdb
import pytest
from dagster import AssetKey, materialize
from dagster_duckdb import DuckDBResource

from pipelines.assets.core import core_assets
from pipelines.contract import TABLES
from pipelines.core import CORE_TABLES
from pipelines.settings import PopcareSettings
from pipelines.sql import read_sql
from tests.core_fixtures import make_staging

_TABLE_REF = re.compile(r"\b(staging|core)\.([a-z_]+)\b")


def test_every_core_table_has_a_sql_file_and_declares_what_it_reads():
    built: set[str] = set()
    for table in CORE_TABLES:
        sql = "\n".join(
            line
            for line in read_sql(f"core/{table.name}").splitlines()
            if not line.startswith("--")
        )
        refs = set(_TABLE_REF.findall(sql))
        reads = {(schema, name) for schema, name in refs if (schema, name) != ("core", table.name)}
        kind = "view" if table.view else "table"
        assert f"create or replace {kind} core.{table.name} as" in sql
        assert {n for s, n in reads if s == "staging"} == set(table.staging), table.name
        assert {n for s, n in reads if s == "core"} == set(table.core), table.name
        assert set(table.staging) <= set(TABLES)
        assert set(table.core) <= built, f"{table.name} reads a table built after it"
        built.add(table.name)


def test_core_assets_keys_groups_and_deps():
    by_key = {a.key: a for a in core_assets}
    assert set(by_key) == {AssetKey(["core", t.name]) for t in CORE_TABLES}
    stay = by_key[AssetKey(["core", "inpatient_stay"])]
    assert stay.group_names_by_key[stay.key] == "core"
    assert stay.descriptions_by_key[stay.key]
    deps = {d.asset_key for d in stay.specs_by_key[stay.key].deps}
    assert deps == {
        AssetKey(["staging", "encounter"]),
        AssetKey(["core", "inpatient_stay_claim"]),
        AssetKey(["core", "medical_claim_final"]),
    }


def test_materialize_core_on_a_tiny_fixture(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    make_staging(
        con,
        eligibility=[
            {
                "person_id": "P1",
                "enrollment_start_date": "2024-01-01",
                "enrollment_end_date": "2024-12-31",
                "payer_type": "medicare",
                "gender": "female",
            },
        ],
        medical_claim=[
            {
                "claim_id": "IP1",
                "claim_line_number": 1,
                "claim_type": "institutional",
                "person_id": "P1",
                "bill_type_code": "111",
                "facility_npi": "F1",
                "claim_start_date": "2024-03-01",
                "claim_end_date": "2024-03-05",
                "discharge_disposition_code": "02",
                "paid_amount": 5000,
            },
            {
                "claim_id": "IP2",
                "claim_line_number": 1,
                "claim_type": "institutional",
                "person_id": "P1",
                "bill_type_code": "111",
                "facility_npi": "F2",
                "claim_start_date": "2024-03-05",
                "claim_end_date": "2024-03-08",
                "discharge_disposition_code": "01",
                "paid_amount": 7000,
            },
            {
                "claim_id": "IP2",
                "claim_line_number": 2,
                "claim_type": "institutional",
                "person_id": "P1",
                "bill_type_code": "111",
                "facility_npi": "F2",
                "claim_start_date": "2024-03-05",
                "claim_end_date": "2024-03-08",
                "paid_amount": 0,
                "allowed_amount": 0,
                "charge_amount": 40,
            },
        ],
    )
    con.close()
    result = materialize(
        core_assets,
        resources={
            "settings": PopcareSettings(
                input_dir=str(tmp_path), out_dir=str(tmp_path / "out"), as_of="2024-12-31"
            ),
            "duckdb": DuckDBResource(database=str(warehouse)),
        },
    )
    assert result.success
    metadata = {
        m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items()}
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert metadata["inpatient_stay"]["rows"] == 2
    assert metadata["inpatient_stay"]["transfer_out_share"] == 0.5
    assert metadata["inpatient_stay"]["mean_length_of_stay"] == 3.5
    assert metadata["medical_claim_adjudication"]["lines_denied"] == 1
    assert metadata["encounter"]["type_acute_inpatient"] == 2
    assert metadata["member_months"]["rows"] == 12
    # No identifiers reach the run database: every value is a number or the as-of date.
    for values in metadata.values():
        for key, value in values.items():
            assert isinstance(value, int | float) or key == "as_of", (key, value)


def test_core_sql_carries_to_spark_and_trino():
    sqlglot = pytest.importorskip("sqlglot")
    for table in CORE_TABLES:
        sql = read_sql(f"core/{table.name}")
        for dialect in ("spark", "trino"):
            sqlglot.transpile(
                sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE
            )
