"""Loading the input contract's files into the ``raw`` schema.

A table arrives as ``INPUT/<table>.csv|.parquet`` or as a folder ``INPUT/<table>/`` of such files;
anything else in INPUT is ignored. Each file is loaded as text with its lineage (file, SHA-256, load
id, row number). Loading is idempotent per file: an unchanged file (same SHA-256 as its last load) is
skipped, a changed file replaces the rows it loaded before, and a table's load is one transaction, so
a failure midway leaves the warehouse as it was.

File-level faults (unreadable, not UTF-8, wrong delimiter, missing required column) raise
:class:`InputError` with the file, the problem and the fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.contract import FILE_SUFFIXES, PERSON_SOURCES, TABLES, Table
from pipelines.sql import quote_ident, run_sql

LINEAGE_COLUMNS = ("_source_file", "_file_sha256", "_load_id", "_row_number")
_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 1 << 20


class InputError(Exception):
    """A file-level fault: the whole file is refused and nothing of it is loaded."""


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: Path
    relative: str
    fmt: str  # "csv" or "parquet"


@dataclass
class Inventory:
    files: dict[str, list[SourceFile]]
    ignored: list[str] = field(default_factory=list)

    def tables_present(self) -> list[str]:
        return [t for t, fs in self.files.items() if fs]


def _format_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return suffix.lstrip(".") if suffix in FILE_SUFFIXES else None


def take_inventory(input_dir: Path) -> Inventory:
    """Which files feed which contract table; files outside the contract are listed as ignored."""
    if not input_dir.is_dir():
        raise InputError(
            f"input folder {input_dir} does not exist or is not a folder: point --input "
            "(or POPCARE_INPUT) at the folder holding the extract's <table>.csv|.parquet files"
        )
    files: dict[str, list[SourceFile]] = {name: [] for name in TABLES}
    ignored: list[str] = []
    for entry in sorted(input_dir.iterdir()):
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir() and name in TABLES:
            for member in sorted(entry.rglob("*")):
                fmt = _format_of(member)
                if member.is_file() and fmt and not member.name.startswith("."):
                    rel = member.relative_to(input_dir).as_posix()
                    files[name].append(SourceFile(name, member, rel, fmt))
                elif member.is_file():
                    ignored.append(member.relative_to(input_dir).as_posix())
        elif entry.is_file() and entry.stem in TABLES and _format_of(entry):
            files[entry.stem].append(SourceFile(entry.stem, entry, name, _format_of(entry) or ""))
        else:
            ignored.append(name + ("/" if entry.is_dir() else ""))
    return Inventory(files, ignored)


def check_person_source(inventory: Inventory, input_dir: Path) -> None:
    if not any(inventory.files[t] for t in PERSON_SOURCES):
        raise InputError(
            f"{input_dir}: neither eligibility nor patient is present, so there is nobody to score. "
            "Add eligibility.csv|.parquet (claims extracts) or patient.csv|.parquet (EHR extracts)."
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sniff_csv(src: SourceFile) -> str:
    """The header line, after checking encoding and delimiter on the first megabyte."""
    with src.path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise InputError(f"{src.relative}: the file is empty; a CSV needs at least a header row")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            f"{src.relative}: the file is UTF-16; popcare reads UTF-8. Re-export it as UTF-8 "
            "(e.g. `iconv -f UTF-16 -t UTF-8`)."
        )
    text = head.decode("utf-8", errors="replace")
    try:
        # A multi-byte character may be cut at the sniff boundary: only decode whole lines.
        head[: head.rfind(b"\n") + 1 or len(head)].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{src.relative}: not valid UTF-8 (byte {exc.start} of the file); it looks like a "
            "Windows-1252/Latin-1 export. Re-export as UTF-8 (e.g. `iconv -f CP1252 -t UTF-8`)."
        ) from exc
    header = text.lstrip("\ufeff").splitlines()[0]
    if "," not in header:
        for delim, label in _OTHER_DELIMITERS.items():
            if delim in header:
                raise InputError(
                    f"{src.relative}: the header is {label}-separated; popcare reads "
                    "comma-separated CSV (RFC 4180). Re-export with commas as the delimiter."
                )
    return header


def file_columns(con: duckdb.DuckDBPyConnection, src: SourceFile) -> list[str]:
    try:
        if src.fmt == "csv":
            _sniff_csv(src)
            rel = con.execute(
                "select * from read_csv($path, header = true, all_varchar = true, "
                "delim = ',', quote = '\"', escape = '\"', sample_size = 1) limit 0",
                {"path": str(src.path)},
            )
        else:
            rel = con.execute("select * from read_parquet($path) limit 0", {"path": str(src.path)})
    except duckdb.Error as exc:
        raise InputError(f"{src.relative}: cannot be read as {src.fmt.upper()}: {exc}") from exc
    return [d[0] for d in rel.description]


def map_columns(table: Table, header: Iterable[str], src_name: str) -> dict[str, str | None]:
    """Contract column -> the file's column (None when absent). Case and surrounding space ignored."""
    by_key: dict[str, str] = {}
    for col in header:
        key = col.strip().lower()
        if key in by_key:
            raise InputError(
                f"{src_name}: column {key!r} appears twice in the header; remove the duplicate"
            )
        by_key[key] = col
    for legacy, current in table.legacy_renames.items():
        if current not in by_key and legacy in by_key:
            by_key[current] = by_key[legacy]
    missing = [c for c in table.required if c not in by_key]
    if missing:
        raise InputError(
            f"{src_name}: table {table.name!r} is missing required column(s) {', '.join(missing)}. "
            "Add them to the extract (see docs/input-contract.md for every table's columns)."
        )
    return {c: by_key.get(c) for c in table.column_names}


@dataclass
class TableLoad:
    table: str
    files_loaded: list[str] = field(default_factory=list)
    files_unchanged: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_in_table: int = 0


def ensure_raw_table(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Create raw.<table>; rebuild it (and forget its load history) if the contract changed."""
    run_sql(con, "raw/audit_tables")
    expected = [*table.column_names, *LINEAGE_COLUMNS]
    existing = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = $t order by ordinal_position",
            {"t": table.name},
        ).fetchall()
    ]
    if existing and existing != expected:
        con.execute(f"drop table raw.{quote_ident(table.name)}")
        con.execute("delete from audit.load_log where table_name = $t", {"t": table.name})
    defs = ",\n    ".join(f"{quote_ident(c)} varchar" for c in table.column_names)
    run_sql(
        con, "raw/create_table", identifiers={"table": quote_ident(table.name), "column_defs": defs}
    )


def _last_hashes(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "select source_file, arg_max(file_sha256, loaded_at) from audit.load_log "
        "where table_name = $t and status = 'loaded' group by source_file",
        {"t": table},
    ).fetchall()
    return dict(rows)


def _select_list(mapping: dict[str, str | None]) -> str:
    parts = []
    for col, src in mapping.items():
        value = "cast(null as varchar)" if src is None else f"cast(r.{_quote_any(src)} as varchar)"
        parts.append(f"{value} as {quote_ident(col)}")
    return ",\n    ".join(parts)


def _quote_any(name: str) -> str:
    """Quote a column name found in a file header (may hold spaces); double quotes are escaped."""
    return '"' + name.replace('"', '""') + '"'


def _load_sql(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    batch: list[tuple[SourceFile, str]],
    mapping: dict[str, str | None],
    load_id: str,
) -> None:
    """Insert ``batch`` (files of one format and one column mapping, with their SHA-256) into
    raw.<table> after forgetting what those files loaded before. Parquet files go in one
    statement, so DuckDB reads them in parallel (a file of one row group is read by one thread);
    CSV files one by one (their row numbers come from the reader's order)."""
    sources = [src for src, _ in batch]
    files = {src.relative: digest for src, digest in batch}
    for relative in files:
        con.execute(
            f"delete from raw.{quote_ident(table_name)} where _source_file = $f", {"f": relative}
        )
    if sources[0].fmt == "parquet":
        groups = [batch]
        reader = "read_parquet($paths, filename = true, file_row_number = true)"
        row_number = "r.file_row_number + 1"
    else:
        groups = [[item] for item in batch]
        # Row numbers in the reader's order, before the join can reorder rows.
        reader = (
            "(select *, row_number() over () as file_row_number from read_csv($paths, "
            "header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', "
            "encoding = 'utf-8', filename = true))"
        )
        row_number = "r.file_row_number"
    for group in groups:
        con.execute(
            "create or replace temp table raw_load_file (path varchar, source_file "
            "varchar, file_sha256 varchar)"
        )
        con.executemany(
            "insert into raw_load_file values (?, ?, ?)",
            [(str(src.path), src.relative, digest) for src, digest in group],
        )
        try:
            run_sql(
                con,
                "raw/load_file",
                params={"paths": [str(src.path) for src, _ in group], "load_id": load_id},
                identifiers={
                    "table": quote_ident(table_name),
                    "select_list": _select_list(mapping),
                    "reader": reader,
                    "row_number": row_number,
                },
            )
        except duckdb.Error as exc:
            names = ", ".join(src.relative for src, _ in group)
            fmt = group[0][0].fmt.upper()
            raise InputError(
                f"{names}: could not be read as {fmt} ({exc}). Check that it is UTF-8, "
                "comma-separated with a header row, and quoted per RFC 4180."
                if fmt == "CSV"
                else f"{names}: could not be read as {fmt} ({exc}). Re-export the file."
            ) from exc
    con.execute("drop table if exists raw_load_file")


def load_table(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    files: list[SourceFile],
    load_id: str,
    loaded_at: datetime,
) -> TableLoad:
    """Load a table's files into raw.<table> in one transaction (all or nothing)."""
    table = TABLES[table_name]
    result = TableLoad(table_name)
    con.begin()
    try:
        ensure_raw_table(con, table)
        previous = _last_hashes(con, table_name)
        # Changed files, grouped by format and column mapping (one statement per group).
        batches: dict[tuple, tuple[dict[str, str | None], list[tuple[SourceFile, str]]]] = {}
        for src in files:
            digest = sha256_of(src.path)
            if previous.get(src.relative) == digest:
                result.files_unchanged.append(src.relative)
                continue
            mapping = map_columns(table, file_columns(con, src), src.relative)
            key = (src.fmt, tuple(mapping.items()))
            batches.setdefault(key, (mapping, []))[1].append((src, digest))
        for mapping, batch in batches.values():
            _load_sql(con, table_name, batch, mapping, load_id)
        loaded = [src for _, batch in batches.values() for src, _ in batch]
        counts = (
            dict(
                con.execute(
                    f"select _source_file, count(*) from raw.{quote_ident(table_name)} "
                    "where _source_file in (select unnest($files)) group by _source_file",
                    {"files": [src.relative for src in loaded]},
                ).fetchall()
            )
            if loaded
            else {}
        )
        for _, batch in batches.values():
            for src, digest in batch:
                rows = int(counts.get(src.relative, 0))
                run_sql(
                    con,
                    "raw/log_load",
                    params={
                        "load_id": load_id,
                        "table_name": table_name,
                        "source_file": src.relative,
                        "file_sha256": digest,
                        "file_bytes": src.path.stat().st_size,
                        "file_format": src.fmt,
                        "rows_read": rows,
                        "rows_loaded": rows,
                        "rows_quarantined": 0,
                        "status": "loaded",
                        "loaded_at": loaded_at,
                    },
                )
                result.files_loaded.append(src.relative)
                result.rows_read += rows
                result.rows_loaded += rows
        result.rows_in_table = con.execute(
            f"select count(*) from raw.{quote_ident(table_name)}"
        ).fetchone()[0]
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result
