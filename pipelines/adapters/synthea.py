"""Synthea CSV export -> popcare input-contract CSV files (``popcare convert synthea SRC DEST``).

Synthea (synthetichealth/synthea) writes one CSV per record type into ``output/csv``. This module
reads them with DuckDB as text, types the columns it uses, runs one SQL file per output table from
``sql/adapters/synthea/`` and writes ``DEST/<table>.csv`` with exactly the contract's columns in the
contract's order. ``docs/synthea-adapter.md`` documents every mapping choice and what is lost.

Both ``payer_transitions`` schemas are accepted: the older year-based one (START_YEAR/END_YEAR,
OWNERSHIP, OWNERNAME, sometimes without MEMBERID) and the current date-based one
(START_DATE/END_DATE, PLAN_OWNERSHIP, OWNER_NAME). Older names of other columns (procedures DATE,
now START; encounters COST, now TOTAL_CLAIM_COST) are read under the current name.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb

from pipelines.contract import TABLES
from pipelines.sql import run_sql

log = logging.getLogger(__name__)

SOURCE_SCHEMA = "synthea"  # typed views over the export's files
OUTPUT_SCHEMA = "converted"  # one table per contract table, built by sql/adapters/synthea/*.sql

PayerTransitionsSchema = Literal["year-based", "date-based"]


@dataclass(frozen=True)
class SyntheaFile:
    """One file of a Synthea CSV export and the columns the adapter reads from it.

    Column names are matched case-insensitively and exposed in lower case. ``types`` names the
    columns that are parsed (everything else stays text); ``aliases`` maps an older Synthea header
    name to the current one.
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    types: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


_TS, _DATE, _MONEY, _FLOAT, _INT = "timestamp", "date", "decimal(18,2)", "double", "bigint"


def _cols(names: str) -> tuple[str, ...]:
    return tuple(names.split())


SOURCES: dict[str, SyntheaFile] = {
    f.name: f
    for f in (
        SyntheaFile(
            "patients",
            required=_cols("id birthdate gender"),
            optional=_cols(
                "deathdate first middle last suffix race ethnicity address city state county zip "
                "lat lon"
            ),
            types={"birthdate": _DATE, "deathdate": _DATE, "lat": _FLOAT, "lon": _FLOAT},
        ),
        SyntheaFile("payers", required=_cols("id name"), optional=_cols("ownership")),
        SyntheaFile(
            "payer_transitions",
            required=_cols("patient payer"),
            optional=_cols(
                "memberid start_date end_date start_year end_year secondary_payer ownership "
                "owner_name"
            ),
            types={"start_date": _TS, "end_date": _TS, "start_year": _INT, "end_year": _INT},
            aliases={"plan_ownership": "ownership", "ownername": "owner_name"},
        ),
        SyntheaFile(
            "encounters",
            required=_cols("id start patient encounterclass"),
            optional=_cols(
                "stop organization provider payer code description total_claim_cost "
                "payer_coverage reasoncode reasondescription"
            ),
            types={"start": _TS, "stop": _TS, "total_claim_cost": _MONEY, "payer_coverage": _MONEY},
            aliases={"cost": "total_claim_cost"},
        ),
        SyntheaFile("organizations", required=_cols("id name")),
        SyntheaFile("providers", required=_cols("id name"), optional=_cols("organization")),
        SyntheaFile(
            "conditions",
            required=_cols("start patient code"),
            optional=_cols("stop encounter system description"),
            types={"start": _DATE, "stop": _DATE},
        ),
        SyntheaFile(
            "procedures",
            required=_cols("start patient code"),
            optional=_cols("stop encounter system description"),
            types={"start": _TS, "stop": _TS},
            aliases={"date": "start"},
        ),
        SyntheaFile(
            "observations",
            required=_cols("date patient code value"),
            optional=_cols("encounter category description units type"),
            types={"date": _TS},
        ),
        SyntheaFile(
            "medications",
            required=_cols("start patient code"),
            optional=_cols("stop payer encounter description dispenses"),
            types={"start": _TS, "stop": _TS, "dispenses": _INT},
        ),
        SyntheaFile(
            "claims",
            required=_cols("id patientid appointmentid"),
            optional=_cols("primarypatientinsuranceid"),
        ),
        SyntheaFile(
            "claims_transactions",
            required=_cols("id claimid chargeid type"),
            optional=_cols("amount method fromdate todate procedurecode transfertype payments"),
            types={
                "chargeid": _INT,
                "amount": _MONEY,
                "payments": _MONEY,
                "fromdate": _TS,
                "todate": _TS,
            },
        ),
    )
}

# Without these two files there is nothing to convert: the folder is not a Synthea export.
REQUIRED_FILES = ("patients", "encounters")

# Output tables in build order (later files read earlier outputs: eligibility reads patient,
# medical_claim and provider_attribution read encounter), each with the files it cannot do without.
# pharmacy_claim is never written: Synthea codes drugs in RxNorm and the table's key is an NDC.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "patient": ("patients",),
    "eligibility": ("patients", "payer_transitions", "payers"),
    "encounter": ("encounters",),
    "condition": ("conditions",),
    "procedure": ("procedures",),
    "lab_result": ("observations",),
    "observation": ("observations",),
    "medication": ("medications",),
    "medical_claim": ("encounters", "claims", "claims_transactions"),
    "provider_attribution": ("patients", "encounters", "payer_transitions", "payers"),
}

# Output tables that also need a column older exports lack: without observations CATEGORY, lab
# results cannot be told from vitals, so lab_result is not written and every row is an observation.
OUTPUT_NEEDS_COLUMN: dict[str, tuple[str, str]] = {"lab_result": ("observations", "category")}

# US state names as Synthea writes them -> USPS codes (the contract's ``state`` holds the code).
US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Puerto Rico": "PR", "Guam": "GU", "U.S. Virgin Islands": "VI", "American Samoa": "AS",
    "Northern Mariana Islands": "MP",
}  # fmt: skip

# RFC 4180 with CRLF line ends, ISO dates, second-precision timestamps.
_CSV_OPTIONS = (
    "format csv, header true, delimiter ',', quote '\"', escape '\"', new_line '\\r\\n', "
    "dateformat '%Y-%m-%d', timestampformat '%Y-%m-%d %H:%M:%S'"
)


def payer_transitions_schema(header: list[str] | tuple[str, ...]) -> PayerTransitionsSchema:
    """Which ``payer_transitions`` schema a header belongs to (column names in any case)."""
    names = {c.strip().lower() for c in header}
    if {"start_date", "end_date"} <= names:
        return "date-based"
    if {"start_year", "end_year"} <= names:
        return "year-based"
    raise ValueError(
        "payer_transitions.csv has neither START_DATE/END_DATE (current Synthea) nor "
        "START_YEAR/END_YEAR (older Synthea) columns; is this a Synthea CSV export?"
    )


def convert_synthea(src: Path, dest: Path) -> dict[str, int]:
    """Convert the Synthea CSV export in ``src`` into contract CSV files in ``dest``.

    Returns the rows written per table. Raises ``ValueError`` naming the missing file or column
    when ``src`` is not a Synthea CSV export. Contract CSVs already in ``dest`` that this export
    cannot populate are removed, so that ``dest`` never mixes two conversions.
    """
    src, dest = Path(src), Path(dest)
    if not src.is_dir():
        raise ValueError(f"{src} is not a folder; point SRC at Synthea's output/csv folder")
    if dest.resolve() == src.resolve():
        raise ValueError("DEST must differ from SRC: write the converted tables to another folder")

    headers = _read_headers(src)
    missing = [SOURCES[n].file_name for n in REQUIRED_FILES if n not in headers]
    if missing:
        raise ValueError(
            f"{src} is not a Synthea CSV export: {', '.join(missing)} not found "
            "(expected the files Synthea writes to output/csv)"
        )
    if "payer_transitions" in headers:
        schema = payer_transitions_schema(headers["payer_transitions"])
        log.info("synthea: payer_transitions.csv is %s", schema)
        if "payers" not in headers:
            raise ValueError(
                f"{src}: payer_transitions.csv names payers by id but payers.csv is not found"
            )

    # Every table is written to a temporary file first and all are renamed at the end, so a
    # failure leaves DEST as it was.
    written: dict[str, int] = {}
    pending: dict[str, Path] = {}
    con = duckdb.connect()
    try:
        con.execute(f"create schema {SOURCE_SCHEMA}")
        con.execute(f"create schema {OUTPUT_SCHEMA}")
        for spec in SOURCES.values():
            _create_source_view(con, spec, src, headers.get(spec.name))
        _create_state_table(con)

        dest.mkdir(parents=True, exist_ok=True)
        for table, needs in OUTPUTS.items():
            absent = [SOURCES[n].file_name for n in needs if n not in headers]
            if table in OUTPUT_NEEDS_COLUMN and not absent:
                name, column = OUTPUT_NEEDS_COLUMN[table]
                if column not in {c.strip().lower() for c in headers[name]}:
                    absent = [f"{column.upper()} column in {SOURCES[name].file_name}"]
            if absent:
                log.info("synthea: %s not written (no %s)", table, ", ".join(absent))
                continue
            run_sql(con, f"adapters/synthea/{table}")
            pending[table] = dest / f".{table}.csv.{os.getpid()}.tmp"
            written[table] = _write_table(con, table, pending[table])
        for table, tmp in pending.items():
            os.replace(tmp, dest / f"{table}.csv")
            log.info("synthea: wrote %d rows to %s.csv", written[table], table)
    finally:
        con.close()
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)

    for table in TABLES:
        stale = dest / f"{table}.csv"
        if table not in written and stale.is_file():
            stale.unlink()
            log.warning("synthea: removed %s, left by an earlier conversion", stale.name)
    return written


def _read_headers(src: Path) -> dict[str, list[str]]:
    """The header of every known Synthea file present in ``src``, with required columns checked."""
    headers: dict[str, list[str]] = {}
    for spec in SOURCES.values():
        path = src / spec.file_name
        if not path.is_file():
            continue
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
        if not header:
            raise ValueError(f"{path}: the file is empty; a Synthea CSV has a header row")
        available = {c.strip().lower() for c in header}
        available |= {new for old, new in spec.aliases.items() if old in available}
        absent = [c.upper() for c in spec.required if c not in available]
        if absent:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(absent)}; is this a Synthea CSV export?"
            )
        headers[spec.name] = header
    return headers


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(expr: str, sql_type: str) -> str:
    """SQL that parses one text column; unparseable values become null (and are counted)."""
    if sql_type == _DATE:  # a date, or a date-time of which only the date is kept
        return f"try_cast(left(trim({expr}), 10) as date)"
    if sql_type == _MONEY:  # plain decimals, and scientific notation should a writer use it
        return (
            f"coalesce(try_cast(trim({expr}) as {_MONEY}), "
            f"try_cast(try_cast(trim({expr}) as double) as {_MONEY}))"
        )
    return f"try_cast(trim({expr}) as {sql_type})"


def _create_source_view(
    con: duckdb.DuckDBPyConnection, spec: SyntheaFile, src: Path, header: list[str] | None
) -> None:
    """``synthea.<file>``: the spec's columns, typed; an empty view when the file is absent."""
    view = f"{SOURCE_SCHEMA}.{spec.name}"
    if header is None:
        cols = ", ".join(
            f"cast(null as {spec.types.get(c, 'varchar')}) as {_quote(c)}" for c in spec.columns
        )
        con.execute(f"create view {view} as select {cols} where false")
        return

    by_key = {c.strip().lower(): c for c in header}
    for old, new in spec.aliases.items():
        if new not in by_key and old in by_key:
            by_key[new] = by_key[old]
    select, checks = [], []
    for col in spec.columns:
        if col not in by_key:
            select.append(f"cast(null as {spec.types.get(col, 'varchar')}) as {_quote(col)}")
            continue
        raw = _quote(by_key[col])
        if col in spec.types:
            typed = _typed(raw, spec.types[col])
            select.append(f"{typed} as {_quote(col)}")
            checks.append((col, f"count(*) filter (where trim({raw}) <> '' and {typed} is null)"))
        else:
            select.append(f"{raw} as {_quote(col)}")
    reader = (
        f"read_csv({_literal(str(src / spec.file_name))}, header = true, all_varchar = true, "
        "delim = ',', quote = '\"', escape = '\"')"
    )
    if checks:
        failures = con.execute(f"select {', '.join(q for _, q in checks)} from {reader}").fetchall()
        bad = [(col, n) for (col, _), n in zip(checks, failures[0], strict=True) if n]
        if bad:
            detail = "; ".join(f"{n} in {col.upper()} (not a {spec.types[col]})" for col, n in bad)
            raise ValueError(f"{spec.file_name}: unreadable values: {detail}")
    con.execute(f"create view {view} as select {', '.join(select)} from {reader}")


def _create_state_table(con: duckdb.DuckDBPyConnection) -> None:
    """``synthea.us_state``: an upper-cased state name or code -> USPS code."""
    con.execute(f"create table {SOURCE_SCHEMA}.us_state (state_key varchar, state_code varchar)")
    rows = [(name.upper(), code) for name, code in US_STATES.items()]
    rows += [(code, code) for code in US_STATES.values()]
    con.executemany(f"insert into {SOURCE_SCHEMA}.us_state values (?, ?)", rows)


def _write_table(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> int:
    """Write ``converted.<table>`` to ``path`` (mode 0600) in contract column order; rows written.

    The SQL files produce only the columns they populate; every other contract column is written
    empty.
    """
    contract = TABLES[table]
    source = f"{OUTPUT_SCHEMA}.{_quote(table)}"
    produced = [d[0] for d in con.execute(f"select * from {source} limit 0").description]
    unknown = sorted(set(produced) - set(contract.column_names))
    if unknown:  # a typo in sql/adapters/synthea/<table>.sql would otherwise vanish silently
        raise RuntimeError(f"sql/adapters/synthea/{table}.sql: not contract columns: {unknown}")
    projection = ", ".join(
        f"cast({_quote(c.name) if c.name in produced else 'null'} as {c.sql_type}) "
        f"as {_quote(c.name)}"
        for c in contract.columns
    )
    # Person first, then the grain with its dates first: spans and visits read in time order.
    grain = [g.strip() for g in contract.grain.split(",")]
    dates = [g for g in grain if contract.column(g).sql_type == "date"]
    keys = dict.fromkeys(["person_id", *dates, *grain])
    order = ", ".join(_quote(c) for c in keys if c in produced)
    order = order or "all"

    # Created 0600 before DuckDB writes into it: the rows are never readable by others.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    con.execute(
        f"copy (select {projection} from {source} order by {order}) "
        f"to {_literal(str(path))} ({_CSV_OPTIONS})"
    )
    os.chmod(path, 0o600)
    return con.execute(f"select count(*) from {source}").fetchall()[0][0]
