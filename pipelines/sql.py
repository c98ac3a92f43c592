"""A small runner for the SQL files in ``sql/``: one output table per file, values bound by DuckDB.

Files may contain ``{{ name }}`` placeholders for SQL fragments that popcare generates from its own
definitions (a table name, the contract's column list, a reader call), never from data; values are
always bound as DuckDB parameters (``$name``), never formatted into the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

_PKG_SQL = Path(__file__).resolve().parent / "_sql"  # in a built wheel
_REPO_SQL = Path(__file__).resolve().parents[1] / "sql"  # in a checkout
SQL_DIR = _REPO_SQL if _REPO_SQL.is_dir() else _PKG_SQL

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@cache
def read_sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` (``name`` like ``raw/audit_tables``)."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} not found")
    return path.read_text(encoding="utf-8")


def quote_ident(name: str) -> str:
    """Double-quote an identifier, refusing anything that is not a plain SQL name."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def render(sql: str, identifiers: Mapping[str, str] | None = None) -> str:
    identifiers = identifiers or {}

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in identifiers:
            raise KeyError(f"SQL placeholder {{{{ {key} }}}} has no value")
        return identifiers[key]

    return _PLACEHOLDER.sub(sub, sql)


def run_sql(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    identifiers: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Execute every statement of ``sql/<name>.sql`` in order; returns the last result."""
    params = dict(params or {})
    result = con
    for statement in con.extract_statements(render(read_sql(name), identifiers)):
        wanted = statement.named_parameters
        missing = wanted - params.keys()
        if missing:
            raise KeyError(f"sql/{name}.sql needs parameters {sorted(missing)}")
        result = con.execute(statement, {k: params[k] for k in wanted} if wanted else None)
    return result
