"""The synthetic population generator: determinism, contract conformance, referential integrity,
planted faults, identifier check digits, and realistic rates on a 20,000-person run."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.check_digits import loinc_is_valid, npi_check_digit, npi_is_valid
from pipelines.contract import TABLES
from pipelines.synthetic import generate
from pipelines.synthetic import noise as noise_mod
from pipelines.synthetic.generate import ARROW_TYPES, relative_path
from pipelines.synthetic.rates import TARGETS, measure

START, END = date(2023, 10, 1), date(2026, 9, 30)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "generator.md"


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small_csv")
    return out, generate(300, 11, START, END, out, "csv")


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("noisy")
    return out, generate(400, 5, START, END, out, "csv", noise=0.03)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("big")
    generate(20_000, 20260930, START, END, out, "parquet")
    return out


@pytest.fixture(scope="module")
def big_rates(big) -> dict[str, float]:
    return measure(big)


def _con(folder: Path, fmt: str = "csv") -> duckdb.DuckDBPyConnection:
    """Views over a generated folder; CSV is read with the contract's declared types, so a value
    that does not parse as its type fails the read."""
    con = duckdb.connect()
    for name, table in TABLES.items():
        path = str(folder / f"{name}.{fmt}").replace("'", "''")
        if fmt == "csv":
            types = {c.name: c.sql_type for c in table.columns}
            con.execute(
                f"create view {name} as select * from read_csv('{path}', header=true, "
                f"columns={types!r})"
            )
        else:
            con.execute(f"create view {name} as select * from read_parquet('{path}')")
    return con


# ---------------------------------------------------------------------------------------------
# Determinism and layout


def test_same_arguments_give_the_same_bytes(tmp_path, small_csv):
    first, _ = small_csv
    again = tmp_path / "again"
    generate(300, 11, START, END, again, "csv")
    assert _hashes(again) == _hashes(first)
    other = tmp_path / "other_seed"
    generate(300, 12, START, END, other, "csv")
    assert _hashes(other)["medical_claim.csv"] != _hashes(first)["medical_claim.csv"]


def test_parquet_is_deterministic_too(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(200, 3, START, END, a, "parquet")
    generate(200, 3, START, END, b, "parquet")
    assert _hashes(a) == _hashes(b)


def test_generator_manifest_records_arguments_counts_and_hashes(small_csv):
    out, summary = small_csv
    manifest = json.loads((out / "generator_manifest.json").read_text())
    assert manifest["arguments"] == {
        "patients": 300,
        "seed": 11,
        "start": "2023-10-01",
        "end": "2026-09-30",
        "format": "csv",
        "noise": 0.0,
    }
    assert manifest["row_counts"] == summary["row_counts"]
    assert set(manifest["sha256"]) == {f"{t}.csv" for t in TABLES}
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert not (out / "noise_manifest.csv").exists()


def test_large_runs_write_one_part_per_chunk():
    assert relative_path("eligibility", "parquet", 0, 1) == "eligibility.parquet"
    assert relative_path("eligibility", "parquet", 3, 40) == "eligibility/part-00003.parquet"


# ---------------------------------------------------------------------------------------------
# Contract conformance


def test_csv_tables_have_the_contract_columns_in_order_and_their_values_parse(small_csv):
    out, summary = small_csv
    con = _con(out)
    for name, table in TABLES.items():
        path = out / f"{name}.csv"
        raw = path.read_bytes()
        assert b"\r\n" not in raw
        assert raw.split(b"\n", 1)[0].decode() == ",".join(table.column_names)
        # Typed read: every value must parse as its contract type.
        n = con.execute(f"select count(*) from {name}").fetchone()[0]
        assert n == summary["row_counts"][name] > 0, name


def test_parquet_tables_have_contract_types(big):
    for name, table in TABLES.items():
        schema = pq.read_schema(big / f"{name}.parquet")
        assert schema.names == list(table.column_names), name
        for col in table.columns:
            assert schema.field(col.name).type == ARROW_TYPES[col.sql_type], (name, col.name)


def test_code_formats_follow_the_contract(small_csv):
    con = _con(small_csv[0])
    bad = con.execute(
        r"""
        select
          count(*) filter (where diagnosis_code_1 like '%.%'),
          count(*) filter (where revenue_center_code is not null
                           and not regexp_full_match(revenue_center_code, '0[0-9]{3}')),
          count(*) filter (where bill_type_code is not null
                           and not regexp_full_match(bill_type_code, '[0-9]{3}')),
          count(*) filter (where discharge_disposition_code is not null
                           and not regexp_full_match(discharge_disposition_code, '[0-9]{2}')),
          count(*) filter (where procedure_code_1 is not null
                           and not regexp_full_match(procedure_code_1, '[0-9A-HJ-NP-Z]{7}'))
        from medical_claim
        """
    ).fetchone()
    assert bad == (0, 0, 0, 0, 0)
    ndc = con.execute(
        "select count(*) filter (where not regexp_full_match(ndc_code, '[0-9]{11}')), count(*) "
        "from pharmacy_claim"
    ).fetchone()
    assert ndc[0] == 0 and ndc[1] > 0


# ---------------------------------------------------------------------------------------------
# Referential integrity


def test_every_claim_and_fill_is_within_enrollment(small_csv):
    con = _con(small_csv[0])
    orphans = con.execute(
        """
        select count(*) from medical_claim c
        where not exists (select 1 from eligibility e where e.person_id = c.person_id
              and c.claim_start_date between e.enrollment_start_date and e.enrollment_end_date)
        """
    ).fetchone()[0]
    assert orphans == 0
    orphans = con.execute(
        """
        select count(*) from pharmacy_claim f
        where not exists (select 1 from eligibility e where e.person_id = f.person_id
              and f.dispensing_date between e.enrollment_start_date and e.enrollment_end_date)
        """
    ).fetchone()[0]
    assert orphans == 0
    after_death = con.execute(
        """
        select count(*) from medical_claim c join (select distinct person_id, death_date
            from eligibility where death_date is not null) d using (person_id)
        where c.claim_start_date > d.death_date
        """
    ).fetchone()[0]
    assert after_death == 0


def test_ehr_and_registry_people_exist_in_the_population(small_csv):
    con = _con(small_csv[0])
    for table in ("encounter", "lab_result", "observation", "condition", "registry", "medication"):
        missing = con.execute(
            f"select count(*) from {table} t where not exists "
            "(select 1 from patient p where p.person_id = t.person_id)"
        ).fetchone()[0]
        assert missing == 0, table


def test_claim_adjustments_and_reversals_are_well_formed(big):
    con = _con(big, "parquet")
    rows = con.execute(
        """
        select
          count(*) filter (where claim_id like '%-V1' and paid_amount > 0),
          count(distinct claim_id) filter (where claim_id like '%-V1'),
          count(distinct claim_id) filter (where claim_id like '%-A1'),
          count(distinct claim_id) filter (where bill_type_code like '__7'),
          count(distinct claim_id) filter (where bill_type_code like '__8'),
          count(*) filter (where claim_id like '%-A1' and regexp_replace(claim_id, '-A1$', '')
                           not in (select claim_id from medical_claim))
        from medical_claim
        """
    ).fetchone()
    positive_voids, voids, replacements, bt7, bt8, orphan_replacements = rows
    assert positive_voids == 0
    assert voids > 50 and replacements > 50 and bt7 > 20 and bt8 > 10
    assert orphan_replacements == 0


# ---------------------------------------------------------------------------------------------
# Planted faults


def test_noise_plants_every_fault_kind_at_about_the_rate(noisy):
    out, summary = noisy
    manifest = pl.read_csv(out / "noise_manifest.csv", infer_schema=False)
    assert manifest.columns == ["table", "file", "row_number", "column", "fault"]
    assert set(manifest["fault"]) == set(noise_mod.FAULTS)
    total_rows = sum(summary["row_counts"].values())
    assert 0.02 * total_rows < manifest.height < 0.04 * total_rows


def test_each_manifest_row_really_is_faulty(noisy):
    out, _ = noisy
    manifest = pl.read_csv(out / "noise_manifest.csv", infer_schema=False)
    persons = set(
        pl.read_csv(out / "eligibility.csv", infer_schema=False)["person_id"].drop_nulls()
    ) | set(pl.read_csv(out / "patient.csv", infer_schema=False)["person_id"].drop_nulls())
    checked = 0
    for (table, file), group in manifest.group_by(["table", "file"], maintain_order=True):
        frame = pl.read_csv(out / file, infer_schema=False)
        rows = frame.rows(named=True)
        counts = Counter(tuple(r.values()) for r in rows)
        for rec in group.iter_rows(named=True):
            row = rows[int(rec["row_number"]) - 1]
            column = rec["column"] or ""
            if rec["fault"] == "duplicate_line":
                assert counts[tuple(row.values())] >= 2, rec
            else:
                assert noise_mod.is_faulty(table, rec["fault"], column, row, END, persons, []), rec
            checked += 1
    assert checked == manifest.height


@pytest.fixture(scope="module")
def noisy_clean_twin(tmp_path_factory) -> Path:
    """The noisy run's arguments without noise: the same data before faults were planted."""
    out = tmp_path_factory.mktemp("clean_twin")
    generate(400, 5, START, END, out, "csv")
    return out


def test_noise_touches_only_the_rows_in_the_manifest(noisy, noisy_clean_twin):
    out, _ = noisy
    manifest = pl.read_csv(out / "noise_manifest.csv", infer_schema=False)
    for name in TABLES:
        clean = pl.read_csv(noisy_clean_twin / f"{name}.csv", infer_schema=False).rows()
        dirty = pl.read_csv(out / f"{name}.csv", infer_schema=False).rows()
        faults = manifest.filter(pl.col("table") == name)
        dups = faults.filter(pl.col("fault") == "duplicate_line")["row_number"].cast(int)
        edited = set(faults.filter(pl.col("fault") != "duplicate_line")["row_number"].cast(int))
        assert len(dirty) == len(clean) + len(dups), name
        changed = {
            i + 1 for i, (a, b) in enumerate(zip(clean, dirty[: len(clean)], strict=True)) if a != b
        }
        assert changed == edited, name
        assert set(dups) == set(range(len(clean) + 1, len(dirty) + 1)), name


def test_rows_outside_enrollment_are_explained_by_the_noise_manifest(noisy, noisy_clean_twin):
    """A claim outside enrollment is itself in the manifest, or belongs to a person whose
    eligibility row the manifest lists (a corrupted span orphans that person's claims)."""
    out, _ = noisy
    manifest = pl.read_csv(out / "noise_manifest.csv", infer_schema=False)
    flagged = set(
        manifest.filter(pl.col("table") == "medical_claim")["row_number"].cast(int).to_list()
    )
    clean_elig = pl.read_csv(noisy_clean_twin / "eligibility.csv", infer_schema=False)
    elig_rows = manifest.filter(pl.col("table") == "eligibility")["row_number"].cast(int)
    corrupted_people = {clean_elig["person_id"][r - 1] for r in elig_rows if r <= clean_elig.height}
    claims = pl.read_csv(out / "medical_claim.csv", infer_schema=False).with_row_index(
        "row_number", offset=1
    )
    elig = pl.read_csv(out / "eligibility.csv", infer_schema=False)
    con = duckdb.connect()
    con.register("claims", claims)
    con.register("elig", elig)
    orphans = con.execute(
        """
        select row_number, person_id from claims c
        where not exists (select 1 from elig e where e.person_id = c.person_id
              and try_cast(c.claim_start_date as date)
                  between try_cast(e.enrollment_start_date as date)
                  and try_cast(e.enrollment_end_date as date))
        """
    ).fetchall()
    assert orphans, "noise should have produced some claims outside enrollment"
    unexplained = [r for r, p in orphans if r not in flagged and p not in corrupted_people]
    assert unexplained == []


# ---------------------------------------------------------------------------------------------
# Identifiers


def test_npi_check_digit_rule():
    assert npi_is_valid("1234567893")  # CMS's published example
    assert not npi_is_valid("1234567890")
    assert npi_check_digit("123456789") == 3


def test_every_npi_written_passes_luhn(small_csv):
    con = _con(small_csv[0])
    npis = {
        r[0]
        for q in (
            "select rendering_npi from medical_claim",
            "select billing_npi from medical_claim",
            "select facility_npi from medical_claim",
            "select payer_attributed_provider from provider_attribution",
            "select prescribing_provider_npi from pharmacy_claim",
            "select dispensing_provider_npi from pharmacy_claim",
        )
        for r in con.execute(q).fetchall()
        if r[0] is not None
    }
    assert len(npis) > 20
    assert all(npi_is_valid(n) for n in npis), sorted(n for n in npis if not npi_is_valid(n))


def test_every_loinc_written_has_a_valid_check_digit(small_csv):
    assert loinc_is_valid("4548-4") and loinc_is_valid("8480-6") and not loinc_is_valid("4548-3")
    con = _con(small_csv[0])
    codes = {
        r[0]
        for r in con.execute(
            "select source_component_code from lab_result union "
            "select source_code from observation where source_code_type = 'loinc'"
        ).fetchall()
    }
    assert {"4548-4", "8480-6", "8462-4"} <= codes
    assert all(loinc_is_valid(c) for c in codes), codes


# ---------------------------------------------------------------------------------------------
# Realistic rates on 20,000 people


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_rate_is_inside_its_documented_range(big_rates, name):
    lo, hi, _source = TARGETS[name]
    assert name in big_rates, f"{name} was not measured"
    assert lo <= big_rates[name] <= hi, f"{name} = {big_rates[name]} not in [{lo}, {hi}]"


def test_every_target_is_documented():
    text = DOCS.read_text()
    for name, (lo, hi, _) in TARGETS.items():
        assert f"`{name}`" in text and f"{lo:g}–{hi:g}" in text, name


def test_the_past_predicts_the_future(big):
    """Admissions cluster in people (a model has something to learn): being admitted in one year
    raises the chance of an admission the next, and poor diabetes control raises admissions."""
    con = _con(big, "parquet")
    p_after_admit, p_after_none = con.execute(
        """
        with stays as (select distinct person_id, admission_date from medical_claim
                       where bill_type_code like '11%'),
        y1 as (select distinct person_id from stays where year(admission_date) = 2024),
        y2 as (select distinct person_id from stays where year(admission_date) = 2025),
        pop as (select distinct person_id from eligibility
                where enrollment_start_date <= date '2024-01-01'
                  and enrollment_end_date >= date '2025-12-31')
        select avg(case when y2.person_id is not null then 1.0 else 0 end)
                   filter (where y1.person_id is not null),
               avg(case when y2.person_id is not null then 1.0 else 0 end)
                   filter (where y1.person_id is null)
        from pop left join y1 using (person_id) left join y2 using (person_id)
        """
    ).fetchone()
    assert p_after_admit > 2.5 * p_after_none
    poor, good = con.execute(
        """
        with a1c as (select person_id, avg(try_cast(result as double)) as v from lab_result
                     where source_component_code = '4548-4' group by 1),
        adm as (select person_id, count(distinct admission_date) as n from medical_claim
                where bill_type_code like '11%' group by 1)
        select avg(coalesce(n, 0)) filter (where v > 9), avg(coalesce(n, 0)) filter (where v < 7)
        from a1c left join adm using (person_id)
        """
    ).fetchone()
    assert poor > 1.3 * good
