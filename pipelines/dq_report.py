"""The data-quality report: a self-contained HTML page of counts per table, rule and column.

It never shows a value from a row (no identifiers, no raw rows): audit.quarantine holds those in the
warehouse for the data team, the report only counts them.
"""

import html
import os
import tempfile
from datetime import date
from pathlib import Path

import duckdb

from pipelines.sql import run_sql

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f0f3f7;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#a40000;font-weight:600}.ok{color:#0a6b2d}
"""


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return f'<td class="{"ok" if value else "bad"}">{"yes" if value else "NO"}</td>'
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def _table(headers: list[str], rows: list[tuple]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str) -> tuple[str, dict]:
    """The report's HTML and its headline figures."""
    run_sql(con, "raw/audit_tables")
    summary = run_sql(con, "staging/dq_summary").fetchall()
    rules = run_sql(con, "staging/dq_rules").fetchall()
    read = sum(r[2] or 0 for r in summary)
    quarantined = sum(r[4] or 0 for r in summary)
    failing = [r[0] for r in summary if r[8] is False]
    figures = {
        "rows_read": int(read),
        "rows_quarantined": int(quarantined),
        "quarantined_share": round(quarantined / read, 5) if read else 0.0,
        "suites_failing": len(failing),
    }
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>popcare data quality {as_of.isoformat()}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Data quality, as of {as_of.isoformat()}</h1>",
        f"<p>Run {html.escape(run_id)}. {read:,} rows read, {quarantined:,} quarantined "
        f"({figures['quarantined_share']:.3%}). Contract suites failing: "
        f"{html.escape(', '.join(failing)) if failing else 'none'}.</p>",
        "<h2>Tables</h2>",
        _table(
            [
                "table",
                "files",
                "rows read",
                "rows loaded",
                "rows quarantined",
                "balanced",
                "values corrected",
                "expectations",
                "suite passed",
                "blocking failures",
                "reported failures",
                "rows validated by GX",
            ],
            [tuple(int(v) if isinstance(v, int) else v for v in row) for row in summary],
        ),
        "<h2>Rules</h2><p>Quarantined rows are kept in <code>audit.quarantine</code> with the raw "
        "row; corrected values in <code>audit.corrections</code>.</p>",
        _table(["outcome", "table", "rule", "column", "entries"], rules),
        "</body></html>",
    ]
    return "".join(parts), figures


def write_report(out_dir: Path, as_of: date, page: str) -> Path:
    """Write OUT/data-quality/<as_of>/index.html atomically (temp file, then rename)."""
    folder = out_dir / "data-quality" / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "index.html"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".index.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.replace(tmp, target)
    return target
