"""Staging tables for core tests: every contract table, typed as the contract says, built in memory.

``make_staging(con, medical_claim=[{...}, ...])`` creates every ``staging.<table>`` of
``pipelines.contract.TABLES`` (empty unless rows are given) with the contract's column types plus the
lineage columns ``_source_file`` and ``_row_number``; a column missing from a row is null, and the
lineage defaults to ``<table>.csv`` and the row's position (1-based).
``load_tuva_sample(con, folder)`` is a crude stand-in for the real staging layer: it reads the Tuva
Input Layer CSVs as text and ``try_cast``s each contract column to its type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from pipelines.contract import TABLES
from pipelines.sql import quote_ident

LINEAGE = (("_source_file", "varchar"), ("_row_number", "bigint"))


def _columns(table: str) -> list[tuple[str, str]]:
    return [(c.name, c.sql_type) for c in TABLES[table].columns] + list(LINEAGE)


def create_staging_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    cols = ", ".join(f"{quote_ident(name)} {sql_type}" for name, sql_type in _columns(table))
    con.execute(f"create or replace table staging.{quote_ident(table)} ({cols})")


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    columns = _columns(table)
    known = {name for name, _ in columns}
    names = ", ".join(quote_ident(name) for name, _ in columns)
    casts = ", ".join(f"cast(? as {sql_type})" for _, sql_type in columns)
    sql = f"insert into staging.{quote_ident(table)} ({names}) select {casts}"
    for position, row in enumerate(rows, start=1):
        unknown = set(row) - known
        if unknown:
            raise KeyError(f"staging.{table} has no column(s) {sorted(unknown)}")
        values = dict(row)
        values.setdefault("_source_file", f"{table}.csv")
        values.setdefault("_row_number", position)
        con.execute(sql, [values.get(name) for name, _ in columns])


def make_staging(
    con: duckdb.DuckDBPyConnection, **tables: Iterable[Mapping[str, Any]]
) -> duckdb.DuckDBPyConnection:
    """Create every staging table (empty unless rows are given for it) and insert the rows."""
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise KeyError(f"not contract tables: {sorted(unknown)}")
    con.execute("create schema if not exists staging")
    for table in TABLES:
        create_staging_table(con, table)
        insert_rows(con, table, tables.get(table, ()))
    return con


def load_tuva_sample(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Load the Tuva Input Layer CSVs of ``folder`` into staging (text, then try_cast per column)."""
    make_staging(con)
    counts: dict[str, int] = {}
    for table in TABLES:
        path = folder / f"{table}.csv"
        if not path.is_file():
            continue
        present = {
            row[0].lower()
            for row in con.execute(
                "select column_name from (describe select * from read_csv($p, all_varchar=true))",
                {"p": str(path)},
            ).fetchall()
        }
        select = []
        for name, sql_type in _columns(table):
            if name == "_source_file":
                select.append(f"'{table}.csv'")
            elif name == "_row_number":
                select.append("row_number() over ()")
            elif name in present:
                value = f"nullif(trim({quote_ident(name)}), '')"
                if name in ("gender", "sex"):
                    value = f"lower({value})"
                select.append(f"try_cast({value} as {sql_type})")
            else:
                select.append(f"cast(null as {sql_type})")
        con.execute(
            f"insert into staging.{quote_ident(table)} select {', '.join(select)} "
            "from read_csv($p, all_varchar=true)",
            {"p": str(path)},
        )
        counts[table] = con.execute(
            f"select count(*) from staging.{quote_ident(table)}"
        ).fetchone()[0]
    return counts
