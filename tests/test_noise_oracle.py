"""The generator's noise manifest is the oracle: every planted fault is caught under its rule."""

from datetime import date, datetime

import duckdb
import pytest

from pipelines.contract import TABLES
from pipelines.ingest import load_table, take_inventory
from pipelines.staging import stage_table
from pipelines.synthetic import generate

END = date(2026, 9, 30)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    out = tmp_path_factory.mktemp("noisy")
    generate(1500, 11, date(2023, 10, 1), END, out, "csv", 0.03)
    con = duckdb.connect()
    inventory = take_inventory(out)
    for name in TABLES:
        load_table(con, name, inventory.files[name], "L1", datetime(2026, 9, 30, 2))
    results = {name: stage_table(con, name, END) for name in TABLES}
    con.execute(
        "create table manifest as select * from read_csv($p, all_varchar = true)",
        {"p": str(out / "noise_manifest.csv")},
    )
    return con, results


def test_every_fault_kind_is_planted(noisy):
    con, _ = noisy
    kinds = {r[0] for r in con.execute("select distinct fault from manifest").fetchall()}
    assert kinds == {
        "malformed_date",
        "invalid_code",
        "dotted_code",
        "missing_key",
        "duplicate_line",
        "discharge_before_admission",
        "future_date",
        "unknown_person",
    }


def test_every_planted_fault_is_caught_under_its_rule_and_column(noisy):
    con, _ = noisy
    missed = con.execute(
        """
        with found as (
            select table_name, source_file, row_number, column_name, rule from audit.quarantine
            union all
            select table_name, source_file, row_number, column_name, rule from audit.corrections
        )
        select m."table", m.fault, m."column", count(*)
        from manifest as m
        where not exists (
            select 1 from found as f
            where f.table_name = m."table"
              and f.source_file = m.file
              and f.row_number = cast(m.row_number as bigint)
              and f.rule = m.fault
              and (m."column" is null or f.column_name is null or f.column_name = m."column")
        )
        group by all
        """
    ).fetchall()
    planted = con.execute("select count(*) from manifest").fetchone()[0]
    assert planted > 500
    assert missed == []


def test_nothing_clean_is_quarantined_except_cascades_of_planted_faults(noisy):
    con, _ = noisy
    extras = con.execute(
        """
        select q.table_name, q.rule, count(*)
        from audit.quarantine as q
        where not exists (
            select 1 from manifest as m
            where m."table" = q.table_name and m.file = q.source_file
              and cast(m.row_number as bigint) = q.row_number
        )
        group by all
        """
    ).fetchall()
    # A blanked person id on someone's only eligibility row leaves their other rows with an
    # unknown person; a future enrolment start leaves its span ending before it starts.
    assert {rule for _, rule, _ in extras} <= {"unknown_person", "end_before_start"}
    orphaned = con.execute(
        """
        select count(*) from audit.quarantine as q
        inner join raw.medical_claim as r
            on q.table_name = 'medical_claim' and r._row_number = q.row_number
        where q.rule = 'unknown_person'
          and trim(r.person_id) in (
              select trim(person_id) from raw.eligibility where person_id is not null
          )
        """
    ).fetchone()[0]
    assert orphaned == 0


def test_counts_reconcile_for_every_file(noisy):
    con, results = noisy
    assert all(not r.files_unbalanced for r in results.values())
    for result in results.values():
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
    unbalanced = con.execute(
        "select count(*) from audit.file_reconciliation where not balanced"
    ).fetchone()[0]
    assert unbalanced == 0


def test_dotted_codes_are_corrected_not_lost(noisy):
    con, _ = noisy
    dotted = con.execute("select count(*) from manifest where fault = 'dotted_code'").fetchone()[0]
    corrected = con.execute(
        "select count(distinct table_name || source_file || row_number) from audit.corrections "
        "where rule = 'dotted_code'"
    ).fetchone()[0]
    assert dotted > 0 and corrected >= dotted
