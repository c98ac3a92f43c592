"""Readmissions mart: CMS hospital-wide 30-day readmissions (all payers) and a HEDIS PCR-style rate.

The rules live in ``sql/marts/readmission*.sql``; this module loads the planned-readmission
algorithm's code lists (``measures/readmissions/*.csv``, or a user's full official tables from the
folder named by ``POPCARE_READMISSION_CODES``) into ``ref.readmission_<list>`` tables, runs the SQL
files in order and reports summary numbers. Summary numbers are counts and rates only: no person,
stay or facility identifier reaches a log or Dagster's run database.
docs/measures/readmissions.md documents the definition, the sources and every deviation.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

import measures
from pipelines.sql import quote_ident, run_sql

CODE_LISTS_DIR = Path(measures.__file__).resolve().parent / "readmissions"
ENV_CODES = "POPCARE_READMISSION_CODES"

# Every reason a stay is not an index stay, in the order the rules are applied (the first that
# applies is recorded). Names are the values of readmission_index_stays.exclusion_reason.
EXCLUSION_REASONS = (
    "transfer_out",
    "same_day_same_condition_readmission",
    "died_in_hospital",
    "against_medical_advice",
    "cancer_medical_treatment",
    "rehabilitation",
    "psychiatric",
    "follow_up_under_30_days",
    "not_enrolled_through_follow_up",
)

# One output table per file, built in this order (intermediates first).
INDEX_STAY_SQL = (
    "marts/readmission__stay_code",
    "marts/readmission__stay",
    "marts/readmission_index_stays",
)
RATES_SQL = ("marts/readmission_rates",)
PCR_SQL = ("marts/readmission_pcr",)


@dataclass(frozen=True)
class CodeList:
    """One code list: ``measures/readmissions/<name>.csv`` loaded as ``ref.readmission_<name>``."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (column, DuckDB type); extra CSV columns are ignored
    description: str
    may_be_empty: bool = False

    @property
    def table(self) -> str:
        return f"readmission_{self.name}"


_META = (("source", "varchar"), ("version", "varchar"))
_CCS_LIST = (("ccs", "integer"), ("description", "varchar"), *_META)
_CODE_MAP = (
    ("code_system", "varchar"),
    ("code_prefix", "varchar"),
    ("ccs", "integer"),
    ("ccs_description", "varchar"),
    *_META,
)
_CODE_LIST = (
    ("code_system", "varchar"),
    ("code_prefix", "varchar"),
    ("description", "varchar"),
    *_META,
)

CODE_LISTS: tuple[CodeList, ...] = (
    CodeList("icd10cm_ccs", _CODE_MAP, "ICD-10-CM to CCS diagnosis category (longest prefix)"),
    CodeList("icd10pcs_ccs", _CODE_MAP, "ICD-10-PCS to CCS procedure category (longest prefix)"),
    CodeList("always_planned_procedure_ccs", _CCS_LIST, "PRA always-planned procedure CCS"),
    CodeList("always_planned_diagnosis_ccs", _CCS_LIST, "PRA always-planned diagnosis CCS"),
    CodeList("potentially_planned_procedure_ccs", _CCS_LIST, "PRA potentially planned CCS"),
    CodeList(
        "potentially_planned_icd10pcs",
        _CODE_LIST,
        "PRA potentially planned ICD-10-PCS codes outside the potentially planned CCS",
        may_be_empty=True,
    ),
    CodeList("acute_diagnosis_ccs", _CCS_LIST, "PRA acute principal-diagnosis CCS"),
    CodeList(
        "acute_diagnosis_icd10cm",
        _CODE_LIST,
        "PRA acute ICD-10-CM codes outside the acute CCS",
        may_be_empty=True,
    ),
    CodeList(
        "exclusion_diagnosis_ccs",
        (
            ("ccs", "integer"),
            ("description", "varchar"),
            ("exclusion_category", "varchar"),
            *_META,
        ),
        "HWR index exclusions: cancer medical treatment, rehabilitation, psychiatric",
    ),
    CodeList(
        "surgical_procedure_ccs",
        (("ccs", "integer"), *_META),
        "Procedure CCS of the HWR Surgery/Gynecology cohort (a stay with one is not 'medical')",
    ),
    CodeList(
        "pcr_excluded_diagnosis",
        (
            ("code_system", "varchar"),
            ("code_prefix", "varchar"),
            ("exclusion_reason", "varchar"),
            *_META,
        ),
        "PCR index exclusions by principal diagnosis: pregnancy, perinatal",
    ),
)
CODE_LIST: dict[str, CodeList] = {c.name: c for c in CODE_LISTS}


class CodeListError(ValueError):
    """A code-list file cannot be used; the message names the file, the line and the fix."""


def override_dir_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
    """The user's folder of official code lists (``POPCARE_READMISSION_CODES``), if set."""
    env = os.environ if environ is None else environ
    value = (env.get(ENV_CODES) or "").strip()
    return Path(value).expanduser() if value else None


def code_list_paths(override_dir: Path | None = None) -> dict[str, Path]:
    """Which file feeds each list: the user's ``<name>.csv`` when present, else the shipped one."""
    if override_dir is not None and not override_dir.is_dir():
        raise CodeListError(
            f"{ENV_CODES} points at {override_dir}, which is not a folder: name the folder that "
            "holds the official code lists (<list>.csv files), or unset the variable"
        )
    paths = {}
    for spec in CODE_LISTS:
        user = override_dir / f"{spec.name}.csv" if override_dir is not None else None
        paths[spec.name] = (
            user if user is not None and user.is_file() else (CODE_LISTS_DIR / f"{spec.name}.csv")
        )
    return paths


def normalise_code(value: str) -> str:
    """ICD codes as claims carry them: upper case, no dot, no spaces or quotes (AHRQ files quote
    codes as 'A000')."""
    return value.strip().strip("'\"").replace(".", "").replace(" ", "").upper()


def _parse_ccs(value: str, where: str) -> int:
    text = value.strip().strip("'\"").strip()
    try:
        return int(text)
    except ValueError as exc:
        raise CodeListError(f"{where}: ccs {value!r} is not a whole number") from exc


def read_code_list(spec: CodeList, path: Path) -> pa.Table:
    """Read and check one code-list CSV (UTF-8, header row); returns its columns, typed."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
        missing = [name for name, _ in spec.columns if name not in header]
        if missing:
            raise CodeListError(
                f"{path}: missing column(s) {missing}; a {spec.name} list needs the columns "
                f"{[name for name, _ in spec.columns]} (see measures/readmissions/README.md)"
            )
        values: dict[str, list[object]] = {name: [] for name, _ in spec.columns}
        for line, row in enumerate(reader, start=2):
            where = f"{path}, line {line}"
            for name, sql_type in spec.columns:
                raw = (row.get(header[name]) or "").strip()
                if name == "code_prefix":
                    code = normalise_code(raw)
                    if not code:
                        raise CodeListError(f"{where}: empty code_prefix")
                    values[name].append(code)
                elif name == "code_system":
                    values[name].append(raw.lower())
                elif sql_type == "integer":
                    values[name].append(_parse_ccs(raw, where))
                else:
                    values[name].append(raw or None)
    rows = len(values[spec.columns[0][0]])
    if rows == 0 and not spec.may_be_empty:
        raise CodeListError(f"{path}: no rows; the {spec.name} list cannot be empty")
    types = {"integer": pa.int32(), "varchar": pa.string()}
    return pa.table(
        {name: pa.array(values[name], type=types[sql_type]) for name, sql_type in spec.columns}
    )


def load_code_lists(
    con: duckdb.DuckDBPyConnection, override_dir: Path | None = None
) -> dict[str, int]:
    """Load every code list into ``ref.readmission_<name>`` (replacing it); rows per list."""
    con.execute("create schema if not exists ref")
    counts: dict[str, int] = {}
    for name, path in code_list_paths(override_dir).items():
        spec = CODE_LIST[name]
        table = read_code_list(spec, path)
        columns = ", ".join(
            f"cast({quote_ident(c)} as {t}) as {quote_ident(c)}" for c, t in spec.columns
        )
        con.register("readmission_code_list_rows", table)
        try:
            con.execute(
                f"create or replace table ref.{quote_ident(spec.table)} as "
                f"select {columns} from readmission_code_list_rows"
            )
        finally:
            con.unregister("readmission_code_list_rows")
        counts[name] = table.num_rows
    return counts


def _run(con: duckdb.DuckDBPyConnection, names: tuple[str, ...], params: dict[str, object]) -> None:
    con.execute("create schema if not exists marts")
    for name in names:
        run_sql(con, name, params=params).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int | float:
    """A count (int) or a rate (float, 4 decimals; 0.0 when there is nothing to divide)."""
    (value,) = con.execute(sql).fetchone()
    if isinstance(value, int):
        return value
    return round(float(value), 4) if value is not None else 0.0


def index_stay_stats(con: duckdb.DuckDBPyConnection) -> dict[str, int | float]:
    """Counts and rates of ``marts.readmission_index_stays`` (no identifiers)."""
    index = "from marts.readmission_index_stays where is_index"
    stats: dict[str, int | float] = {
        "stays": _scalar(con, "select count(*) from marts.readmission_index_stays"),
        "index_stays": _scalar(con, f"select count(*) {index}"),
        "readmissions": _scalar(con, f"select count(*) {index} and readmitted_30d"),
        "overall_rate": _scalar(
            con, f"select avg(case when readmitted_30d then 1.0 else 0.0 end) {index}"
        ),
        # Share of first readmissions within 30 days that the algorithm calls planned.
        "planned_share": _scalar(
            con,
            "select avg(case when readmission_planned then 1.0 else 0.0 end) "
            f"{index} and readmission_stay_id is not null",
        ),
    }
    by_reason = dict(
        con.execute(
            "select exclusion_reason, count(*) from marts.readmission_index_stays "
            "where exclusion_reason is not null group by all"
        ).fetchall()
    )
    for reason in EXCLUSION_REASONS:
        stats[f"excluded_{reason}"] = int(by_reason.get(reason, 0))
    for label, condition in (
        ("medicare", "s.payer_type = 'medicare'"),
        ("commercial", "s.payer_type = 'commercial'"),
        ("medicaid", "s.payer_type = 'medicaid'"),
        (
            "commercial_18_64",
            "s.payer_type = 'commercial' and s.age_at_discharge between 18 and 64",
        ),
        ("medicare_65_plus", "s.payer_type = 'medicare' and s.age_at_discharge >= 65"),
    ):
        base = (
            "from marts.readmission_index_stays as i "
            "inner join marts.readmission__stay as s on i.stay_id = s.stay_id "
            f"where i.is_index and {condition}"
        )
        stats[f"{label}_index_stays"] = _scalar(con, f"select count(*) {base}")
        stats[f"{label}_rate"] = _scalar(
            con, f"select avg(case when i.readmitted_30d then 1.0 else 0.0 end) {base}"
        )
    return stats


def rates_stats(con: duckdb.DuckDBPyConnection) -> dict[str, int | float]:
    """Summary of ``marts.readmission_rates``: the overall, Medicare and commercial rates."""
    stats: dict[str, int | float] = {
        "rows": _scalar(con, "select count(*) from marts.readmission_rates"),
    }
    for key, grouping, value in (
        ("overall", "overall", "all"),
        ("medicare", "payer", "medicare"),
        ("commercial", "payer", "commercial"),
        ("medicaid", "payer", "medicaid"),
    ):
        row = con.execute(
            "select index_stays, readmissions, rate from marts.readmission_rates "
            "where grouping = ? and group_value = ?",
            [grouping, value],
        ).fetchone()
        index_stays, readmissions, rate = row if row else (0, 0, None)
        stats[f"{key}_index_stays"] = int(index_stays)
        stats[f"{key}_readmissions"] = int(readmissions)
        stats[f"{key}_rate"] = round(float(rate), 4) if rate is not None else 0.0
    stats["facilities"] = _scalar(
        con, "select count(*) from marts.readmission_rates where grouping = 'facility'"
    )
    # Every payer and age-band rate (a handful of fixed labels); months and facilities stay in
    # the table (facility NPIs are identifiers, months are many).
    for grouping, value, index_stays, rate in con.execute(
        "select grouping, group_value, index_stays, rate from marts.readmission_rates "
        "where grouping in ('payer', 'age_band') order by grouping, group_value"
    ).fetchall():
        label = re.sub(r"[^a-z0-9]+", "_", f"{grouping}_{value}".replace("+", "_plus").lower())
        stats[f"index_stays_{label}"] = int(index_stays)
        stats[f"rate_{label}"] = round(float(rate), 4)
    return stats


def pcr_stats(con: duckdb.DuckDBPyConnection) -> dict[str, int | float]:
    """Counts and observed rates of ``marts.readmission_pcr`` per age group."""
    stats: dict[str, int | float] = {}
    for group, index_stays, readmissions, rate in con.execute(
        "select age_group, index_stays, readmissions, observed_rate from marts.readmission_pcr"
    ).fetchall():
        key = group.replace("-", "_").replace("+", "_plus")
        stats[f"index_stays_{key}"] = int(index_stays)
        stats[f"readmissions_{key}"] = int(readmissions)
        stats[f"observed_rate_{key}"] = round(float(rate), 4) if rate is not None else 0.0
    return stats


def build_readmission_index_stays(
    con: duckdb.DuckDBPyConnection, as_of: date, override_dir: Path | None = None
) -> dict[str, int | float]:
    """Load the code lists, build the per-stay intermediates and ``marts.readmission_index_stays``."""
    lists = load_code_lists(con, override_dir)
    _run(con, INDEX_STAY_SQL, {"as_of": as_of})
    stats = index_stay_stats(con)
    stats["code_lists_overridden"] = sum(
        1 for path in code_list_paths(override_dir).values() if path.parent != CODE_LISTS_DIR
    )
    stats["icd10cm_ccs_rows"] = lists["icd10cm_ccs"]
    stats["icd10pcs_ccs_rows"] = lists["icd10pcs_ccs"]
    return stats


def build_readmission_rates(con: duckdb.DuckDBPyConnection) -> dict[str, int | float]:
    """Build ``marts.readmission_rates`` from the index stays (which must be built)."""
    _run(con, RATES_SQL, {})
    return rates_stats(con)


def build_readmission_pcr(
    con: duckdb.DuckDBPyConnection, as_of: date, period_start: date, period_end: date
) -> dict[str, int | float]:
    """Build ``marts.readmission_pcr`` for the measurement period (index stays must be built)."""
    _run(con, PCR_SQL, {"as_of": as_of, "period_start": period_start, "period_end": period_end})
    return pcr_stats(con)


def build_readmissions(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    period_start: date,
    period_end: date,
    override_dir: Path | None = None,
) -> dict[str, dict[str, int | float]]:
    """Every readmission table in order; summary numbers per output table."""
    return {
        "readmission_index_stays": build_readmission_index_stays(con, as_of, override_dir),
        "readmission_rates": build_readmission_rates(con),
        "readmission_pcr": build_readmission_pcr(con, as_of, period_start, period_end),
    }
