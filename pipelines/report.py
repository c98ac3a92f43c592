"""The run report: one self-contained HTML page of the night's key numbers and charts.

Each nightly run writes ``OUT/report/<as_of>/index.html`` and ``summary.json`` (the key numbers,
compared with the previous report on the next run). The numbers come from ``sql/report/*.sql``
(one query per file) and from the registered risk model's metadata (its validation metrics and
reliability curve); docs/report.md says where each number on the page comes from.

- Aggregates only: counts, rates and model metrics. No query reads a name, and none returns a
  person identifier or a row; the page, the summary and the return value carry counts only.
- Self-contained: plotly.js is inlined once (the first chart), so the page opens with no network.
- Tolerant: a table that is not built yet (a step failed or has not run) is named on the page as
  "not built"; the rest of the page still renders.
- Trend: against the most recent report with an earlier as-of date under ``OUT/report/``; when
  there is none, against the previous run for the same as-of date (its summary.json, read before
  this run replaces it); "—" when there is neither.
- Written atomically and owner-only (temp file, fsync, rename; mode 0600, folders 0700), with
  pipelines/outreach.py's helpers.
"""

import html
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from pipelines.outreach import (
    ensure_private_dir,
    table_exists,
    write_chunks_atomic,
    write_json_atomic,
)
from pipelines.sql import run_sql

PAGE_FILE = "index.html"
SUMMARY_FILE = "summary.json"
SUMMARY_SCHEMA = 1
FALLBACK_VERSION = "baseline-fallback"  # models.score.FALLBACK_VERSION, without importing scoring

# sql/report/<name>.sql and the tables each reads: a query runs only when all of them exist.
QUERIES: dict[str, tuple[str, ...]] = {
    "population": ("core.person", "core.member_months"),
    "population_mix": ("core.person",),
    "member_months_by_month": ("core.member_months",),
    "measure_rates": ("marts.measure_rates",),
    "readmission_rates": ("marts.readmission_rates",),
    "risk_tiers": ("marts.risk_scores",),
    "risk_model_versions": ("marts.risk_scores",),
    "quarantine": ("audit.quarantine",),
    "load_summary": ("audit.file_reconciliation", "audit.load_log"),
    "outreach_list": ("marts.outreach_list",),
    "outreach_suppressed": ("marts.outreach_suppressed",),
}

TIER_ORDER = ("complex", "high", "rising", "low")
AGE_BANDS = ("0-17", "18-44", "45-64", "65-74", "75-84", "85+", "unknown")

# Colours: one palette for the page and the charts.
INK, MUTED, ACCENT = "#1e293b", "#64748b", "#1d4ed8"
GOOD, BAD = "#047857", "#b91c1c"
SERIES = ("#1d4ed8", "#0d9488", "#f59e0b", "#7c3aed", "#db2777", "#64748b", "#65a30d")
TIER_COLOURS = {"complex": "#b91c1c", "high": "#f97316", "rising": "#eab308", "low": "#94a3b8"}
GROUP_COLOURS = {"1": "#b91c1c", "2": "#f97316", "3": "#1d4ed8"}
MODEL_CURVES = {
    "model": ("Model (calibrated)", "#1d4ed8"),
    "logistic_reference": ("Logistic regression reference", "#7c3aed"),
    "cms_hcc_v28": ("CMS-HCC V28 raw score", "#dc2626"),
    "prior_year_acute_use": ("Prior-year acute use", "#059669"),
}
DASH = "\u2014"  # shown where there is no number (no previous report, a table not built)


# --------------------------------------------------------------------------------------------
# Gathering
# --------------------------------------------------------------------------------------------


@dataclass
class ReportData:
    """What the page shows: rows of each report query (None when a table it reads is not built),
    the tables that were missing, measure titles and the scoring model's metadata extract."""

    as_of: date
    rows: dict[str, list[dict[str, Any]] | None]
    missing: dict[str, list[str]]
    measure_titles: dict[str, str] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    model_note: str = ""

    def get(self, name: str) -> list[dict[str, Any]] | None:
        return self.rows.get(name)


def _plain(value: Any) -> Any:
    """JSON-friendly scalars: Decimal to float, dates to ISO text, NaN to None."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _fetch(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in result.description]
    return [
        {n: _plain(v) for n, v in zip(names, values, strict=True)} for values in result.fetchall()
    ]


def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    return table_exists(con, schema, name)


def run_queries(
    con: duckdb.DuckDBPyConnection, as_of: date
) -> tuple[dict[str, list[dict[str, Any]] | None], dict[str, list[str]]]:
    """Run every report query whose tables exist; the others give None and their missing tables."""
    rows: dict[str, list[dict[str, Any]] | None] = {}
    missing: dict[str, list[str]] = {}
    for name, needs in QUERIES.items():
        absent = [t for t in needs if not _exists(con, t)]
        if absent:
            rows[name], missing[name] = None, absent
            continue
        rows[name] = _fetch(run_sql(con, f"report/{name}", {"as_of": as_of}))
    return rows, missing


def measure_titles() -> dict[str, str]:
    """Measure id -> title from measures/definitions (empty when they cannot be read)."""
    try:
        from pipelines.measures import load_measures

        return {m.id: m.title for m in load_measures()}
    except Exception:  # a broken definition file must not cost the whole report
        return {}


def _ci(entry: Any) -> dict[str, float | None] | None:
    if not isinstance(entry, Mapping) or entry.get("value") is None:
        return None
    return {k: _plain(entry.get(k)) for k in ("value", "low", "high")}


def model_extract(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a registered model's metadata.json the page shows: version, label, validation
    rows, metrics with 95% intervals per score, and the reliability (calibration) curves. All
    aggregates: the metadata holds counts and metrics only."""
    validation = meta.get("validation") or {}
    scores = (validation.get("overall") or {}).get("scores") or {}
    metrics = {
        name: {
            metric: _ci(values.get(metric))
            for metric in (
                "auroc",
                "auprc",
                "brier",
                "calibration_slope",
                "calibration_intercept",
                "observed_expected",
            )
        }
        for name, values in scores.items()
        if isinstance(values, Mapping)
    }
    reliability = {
        name: [
            {k: _plain(point.get(k)) for k in ("predicted", "observed", "rows")}
            for point in curve
            if isinstance(point, Mapping)
        ]
        for name, curve in (validation.get("reliability") or {}).items()
        if isinstance(curve, list)
    }
    label = meta.get("label_spec") or {}
    rows = (meta.get("rows") or {}).get("validation") or {}
    return {
        "version": meta.get("version"),
        "as_of": _plain(meta.get("as_of")),
        "registered_at": meta.get("registered_at"),
        "label": label.get("name") or meta.get("label"),
        "label_description": label.get("description"),
        "validation_rows": rows.get("rows"),
        "validation_positives": rows.get("positives"),
        "metrics": metrics,
        "reliability": reliability,
    }


def find_model(
    models_home: Path | None, versions: Sequence[Mapping[str, Any]] | None
) -> tuple[dict[str, Any] | None, str]:
    """The metadata extract of the model that scored the population, and a note for the page."""
    if versions is None:
        return None, "marts.risk_scores is not built, so no model is shown."
    if not versions:
        return None, "marts.risk_scores is empty: nobody was scored."
    version = versions[0]["model_version"]
    if version == FALLBACK_VERSION:
        return None, (
            "Scores use the documented baseline (CMS-HCC raw score + prior-year acute use): no "
            "model was registered for this warehouse, so there is no calibration to show."
        )
    if models_home is None:
        return None, f"Model {version}: the model registry was not given to the report."
    from models.registry import list_models  # imports scikit-learn: only when a model is shown

    for meta in reversed(list_models(models_home)):
        if meta.get("version") == version:
            return model_extract(meta), ""
    return None, f"Model {version} is not in the registry beside the warehouse."


def gather(
    con: duckdb.DuckDBPyConnection, as_of: date, models_home: Path | None = None
) -> ReportData:
    """Everything the page shows, read from the warehouse and the model registry."""
    rows, missing = run_queries(con, as_of)
    model, note = find_model(models_home, rows.get("risk_model_versions"))
    return ReportData(
        as_of=as_of,
        rows=rows,
        missing=missing,
        measure_titles=measure_titles(),
        model=model,
        model_note=note,
    )


# --------------------------------------------------------------------------------------------
# Key numbers (summary.json) and the trend against the previous report
# --------------------------------------------------------------------------------------------


def _sum(rows: Iterable[Mapping[str, Any]], key: str) -> int:
    return int(sum(r.get(key) or 0 for r in rows))


def summarise(data: ReportData, run_id: str, generated_at: datetime) -> dict[str, Any]:
    """The key numbers of the report, as stored in summary.json (None: not built)."""
    population = None
    if data.get("population"):
        population = {k: int(v or 0) for k, v in data.get("population")[0].items()}
        mix = data.get("population_mix") or []
        for dimension in ("age_band", "sex", "payer_type"):
            population[dimension] = {
                r["category"]: int(r["persons"]) for r in mix if r["dimension"] == dimension
            }
    measures = None
    if data.get("measure_rates") is not None:
        measures = {
            r["measure_id"]: {
                "title": data.measure_titles.get(r["measure_id"], r["measure_id"]),
                "rate": r["rate"],
                "rate_unit": r["rate_unit"],
                "higher_is_better": r["higher_is_better"],
                "denominator": r["denominator"],
                "exclusions": r["exclusions"],
                "numerator": r["numerator"],
                "period_start": r["period_start"],
                "period_end": r["period_end"],
            }
            for r in data.get("measure_rates")
        }
    readmission = None
    if data.get("readmission_rates") is not None:
        overall = [r for r in data.get("readmission_rates") if r["grouping"] == "overall"]
        readmission = {
            "index_stays": _sum(overall, "index_stays"),
            "readmissions": _sum(overall, "readmissions"),
            "rate": overall[0]["rate"] if overall else None,
        }
    risk = None
    if data.get("risk_tiers") is not None:
        tiers = {r["tier"]: int(r["persons"]) for r in data.get("risk_tiers")}
        versions = data.get("risk_model_versions") or []
        risk = {
            "persons_scored": sum(tiers.values()),
            "tiers": tiers,
            "complex_high": tiers.get("complex", 0) + tiers.get("high", 0),
            "model_version": versions[0]["model_version"] if versions else None,
        }
    model = None
    if data.model:
        m = data.model["metrics"].get("model") or {}
        model = {
            "version": data.model["version"],
            **{k: (m.get(k) or {}).get("value") for k in ("auroc", "calibration_slope")},
            "observed_expected": (m.get("observed_expected") or {}).get("value"),
        }
    quality = None
    if data.get("load_summary") is not None:
        loads = data.get("load_summary")
        quarantine = data.get("quarantine") or []
        quality = {
            "tables": len(loads),
            "files": _sum(loads, "files"),
            "rows_read": _sum(loads, "rows_read"),
            "rows_loaded": _sum(loads, "rows_loaded"),
            "rows_quarantined": _sum(loads, "rows_quarantined"),
            "files_unbalanced": _sum(loads, "files_unbalanced"),
            "quarantine_entries": _sum(quarantine, "entries"),
        }
    outreach = None
    if data.get("outreach_list") is not None:
        lists = data.get("outreach_list")
        suppressed = data.get("outreach_suppressed") or []
        by_team: dict[str, int] = {}
        by_group: dict[str, int] = {}
        for r in lists:
            by_team[r["team"]] = by_team.get(r["team"], 0) + int(r["persons"])
            group = str(r["priority_group"])
            by_group[group] = by_group.get(group, 0) + int(r["persons"])
        outreach = {
            "list_rows": _sum(lists, "persons"),
            "over_capacity": _sum(
                (r for r in lists if r["assignment"] == "over_capacity"), "persons"
            ),
            "by_team": by_team,
            "by_priority_group": by_group,
            "suppressed_persons": _sum(
                (r for r in suppressed if r["outcome"] == "suppressed"), "primary_persons"
            ),
            "routed_persons": _sum(
                (r for r in suppressed if r["outcome"] != "suppressed"), "primary_persons"
            ),
        }
    return {
        "schema": SUMMARY_SCHEMA,
        "as_of": data.as_of.isoformat(),
        "run_id": run_id,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "not_built": sorted({t for tables in data.missing.values() for t in tables}),
        "population": population,
        "measures": measures,
        "readmission": readmission,
        "risk": risk,
        "model": model,
        "data_quality": quality,
        "outreach": outreach,
    }


@dataclass(frozen=True)
class Kpi:
    """A headline number: where it sits in summary.json, its label, and which way is better."""

    path: str
    label: str
    kind: str  # "count" or "rate" (a proportion)
    higher_is_better: bool | None = None


KPIS = (
    Kpi("population.persons_alive", "Persons (alive)", "count"),
    Kpi("population.member_months_12m", "Member-months, last 12 months", "count"),
    Kpi("readmission.rate", "30-day readmission rate", "rate", higher_is_better=False),
    Kpi("risk.complex_high", "Complex + high risk", "count"),
    Kpi("outreach.list_rows", "On outreach lists", "count"),
    Kpi("data_quality.rows_quarantined", "Rows quarantined", "count", higher_is_better=False),
)


def lookup(summary: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _delta(current: Any, previous: Any) -> float | None:
    now, before = _number(current), _number(previous)
    return None if now is None or before is None else now - before


def read_summary(path: Path) -> dict[str, Any] | None:
    """A summary.json of this schema, or None (absent, unreadable or another schema)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SUMMARY_SCHEMA:
        return None
    return data


def find_previous_summary(
    report_root: Path, as_of: date, run_id: str
) -> tuple[dict[str, Any], str] | None:
    """The summary to compare with, and how it was chosen.

    The most recent report with an earlier as-of date (``"earlier_date"``: in production that is
    last night's run, so a re-run after a failure still compares with yesterday); when there is
    none, the previous run for the same as-of date (``"same_date"``: e.g. the fixed-date sample).
    Later as-of dates (a back-fill) are never used. None when nothing qualifies.
    """
    if not report_root.is_dir():
        return None
    earlier: list[tuple[date, Path]] = []
    for folder in report_root.iterdir():
        try:
            when = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if when < as_of:
            earlier.append((when, folder))
    for _, folder in sorted(earlier, reverse=True):
        found = read_summary(folder / SUMMARY_FILE)
        if found is not None:
            return found, "earlier_date"
    same = read_summary(report_root / as_of.isoformat() / SUMMARY_FILE)
    if same is not None and same.get("run_id") != run_id:
        return same, "same_date"
    return None


def compute_trend(
    current: Mapping[str, Any], previous: Mapping[str, Any] | None, basis: str | None = None
) -> dict[str, Any]:
    """Changes of the headline numbers and of every measure rate since ``previous``."""
    if previous is None:
        return {"compared_with": None, "kpis": {}, "measures": {}}
    kpis = {}
    for kpi in KPIS:
        now, before = lookup(current, kpi.path), lookup(previous, kpi.path)
        kpis[kpi.path] = {"current": now, "previous": before, "delta": _delta(now, before)}
    measures = {}
    before_measures = previous.get("measures") or {}
    for measure_id, now in (current.get("measures") or {}).items():
        before = before_measures.get(measure_id) or {}
        same_unit = before.get("rate_unit") == now.get("rate_unit")
        previous_rate = before.get("rate") if same_unit else None
        measures[measure_id] = {
            "current": now.get("rate"),
            "previous": previous_rate,
            "delta": _delta(now.get("rate"), previous_rate),
        }
    return {
        "compared_with": {
            "as_of": previous.get("as_of"),
            "run_id": previous.get("run_id"),
            "generated_at": previous.get("generated_at"),
            "basis": basis,
        },
        "kpis": kpis,
        "measures": measures,
    }


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def fmt_int(value: Any) -> str:
    number = _number(value)
    return DASH if number is None else f"{round(number):,}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    number = _number(value)
    return DASH if number is None else f"{100 * number:.{digits}f}%"


def fmt_num(value: Any, digits: int = 2) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:,.{digits}f}"


def fmt_rate(value: Any, unit: str | None) -> str:
    """A measure rate in its unit: a percentage, or events per 1,000 member-years."""
    if unit == "per_1000_member_years":
        number = _number(value)
        return DASH if number is None else f"{number:,.1f} / 1,000 MY"
    return fmt_pct(value)


def fmt_delta(delta: Any, kind: str) -> str:
    """A change: counts with a sign and thousands separators, proportions in percentage points."""
    number = _number(delta)
    if number is None:
        return DASH
    if kind == "rate":
        return f"{100 * number:+.1f} pts"
    if kind == "per_1000_member_years":
        return f"{number:+,.1f}"
    return f"{round(number):+,}"


def _direction(delta: Any, higher_is_better: bool | None) -> str:
    number = _number(delta)
    if number is None or abs(number) < 1e-12 or higher_is_better is None:
        return "flat"
    return "better" if (number > 0) == higher_is_better else "worse"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _short(text: Any, width: int) -> str:
    """``text`` cut at a word boundary to at most ``width`` characters, with an ellipsis."""
    words, out = str(text).split(), ""
    for word in words:
        if len(out) + len(word) + 1 > width:
            return out + "…"
        out = f"{out} {word}" if out else word
    return out


def _pretty(value: Any) -> str:
    """A code-like label for display: 'in_care_management' -> 'In care management'."""
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------

_STYLE = """
:root{--ink:#1e293b;--muted:#64748b;--line:#e2e8f0;--bg:#f1f5f9;--card:#fff;--accent:#1d4ed8;
--good:#047857;--bad:#b91c1c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top{background:#0f2744;color:#fff;padding:1.5rem 2.5rem 1.25rem}
header.top h1{margin:0;font-size:1.6rem;font-weight:650;letter-spacing:-.01em}
header.top .meta{margin-top:.35rem;color:#cbd5e1;font-size:.9rem}
header.top .meta b{color:#fff;font-weight:600}
nav.toc{background:#fff;border-bottom:1px solid var(--line);padding:.55rem 2.5rem;font-size:.9rem;
position:sticky;top:0;z-index:5}
nav.toc a{color:var(--accent);text-decoration:none;margin-right:1.2rem}
main{max-width:1240px;margin:0 auto;padding:1.5rem 2.5rem 3rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(175px,1fr));gap:1rem;
margin:0 0 1.5rem}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.9rem 1rem;
box-shadow:0 1px 2px rgba(15,23,42,.05)}
.kpi .label{color:var(--muted);font-size:.78rem;text-transform:uppercase;letter-spacing:.04em}
.kpi .value{font-size:1.7rem;font-weight:650;margin:.15rem 0;font-variant-numeric:tabular-nums}
.kpi .delta{font-size:.85rem;color:var(--muted)}
.better{color:var(--good)!important}.worse{color:var(--bad)!important}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:1.25rem 1.5rem;margin:0 0 1.5rem;box-shadow:0 1px 2px rgba(15,23,42,.05)}
section.card h2{margin:0 0 .25rem;font-size:1.25rem}
section.card h3{margin:1.2rem 0 .4rem;font-size:1rem;color:#334155}
p.lead{margin:.1rem 0 .9rem;color:var(--muted)}
.grid2{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1rem}
@media (max-width:900px){.grid2{grid-template-columns:minmax(0,1fr)}}
.grid2>*,.grid3>*{min-width:0}
.scroll{overflow-x:auto}
.grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1.25rem;
align-items:start}
.chart{min-height:320px;min-width:0;overflow:hidden}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.88rem}
th,td{padding:.38rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f8fafc;color:#475569;font-weight:600;font-size:.8rem;text-transform:uppercase;
letter-spacing:.03em}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.nw{white-space:nowrap}
tr.total td{font-weight:650;border-top:2px solid #cbd5e1}
.note{background:#f8fafc;border-left:4px solid #94a3b8;padding:.6rem .9rem;margin:.6rem 0;
color:#334155;font-size:.9rem}
.note.missing{border-left-color:#f59e0b;background:#fffbeb}
.note.ok{border-left-color:var(--good);background:#ecfdf5}
.pill{display:inline-block;padding:.05rem .5rem;border-radius:999px;background:#e2e8f0;
font-size:.78rem;color:#334155}
code{font-size:.85em;background:#f1f5f9;padding:.05rem .3rem;border-radius:4px}
footer{color:var(--muted);font-size:.82rem;text-align:center;padding:1rem 0 2rem}
"""


@dataclass(frozen=True)
class Col:
    """A table column: header, how to format a row's value, numeric (right-aligned) or not."""

    header: str
    value: Callable[[Mapping[str, Any]], Any]
    numeric: bool = True
    cls: Callable[[Mapping[str, Any]], str] | None = None


def table(
    columns: Sequence[Col],
    rows: Iterable[Mapping[str, Any]],
    total: Mapping[str, Any] | None = None,
) -> str:
    head = "".join(
        f'<th class="n">{_esc(c.header)}</th>' if c.numeric else f"<th>{_esc(c.header)}</th>"
        for c in columns
    )

    def line(row: Mapping[str, Any], extra: str = "") -> str:
        cells = []
        for c in columns:
            classes = " ".join(
                x for x in ("n" if c.numeric else "", c.cls(row) if c.cls else "") if x
            )
            attr = f' class="{classes}"' if classes else ""
            cells.append(f"<td{attr}>{_esc(c.value(row))}</td>")
        return f"<tr{extra}>{''.join(cells)}</tr>"

    body = "".join(line(r) for r in rows)
    if total is not None:
        body += line(total, ' class="total"')
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</div>"
    )


def not_built(tables: Sequence[str], what: str) -> str:
    names = ", ".join(f"<code>{_esc(t)}</code>" for t in tables)
    return f'<div class="note missing"><b>Not built.</b> {names}: {_esc(what)}</div>'


class Charts:
    """Plotly figures as HTML fragments; plotly.js is inlined with the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, figure: go.Figure, height: int = 340) -> str:
        # The page's look, without overriding what a section set (a wider left margin, say).
        margin = {"l": 70, "r": 20, "t": 48, "b": 50}
        legend = {"orientation": "h", "y": -0.18, "x": 0}
        figure.update_layout(
            template="plotly_white",
            height=height,
            margin={k: v for k, v in margin.items() if figure.layout.margin[k] is None},
            font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
            title={"x": 0.01, "xanchor": "left", "font": {"size": 14, "color": INK}},
            legend={k: v for k, v in legend.items() if figure.layout.legend[k] is None},
            colorway=list(SERIES),
        )
        self.count += 1
        fragment = pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=self.count == 1,
            div_id=f"chart-{self.count}",
            config={"displaylogo": False, "responsive": True, "displayModeBar": False},
        )
        return f'<div class="chart">{fragment}</div>'


def _kpi_tile(label: str, value: str, delta: str, direction: str, hint: str = "") -> str:
    cls = f"delta {direction}" if direction in ("better", "worse") else "delta"
    title = f' title="{_esc(hint)}"' if hint else ""
    return (
        f'<div class="kpi"{title}><div class="label">{_esc(label)}</div>'
        f'<div class="value">{_esc(value)}</div><div class="{cls}">{_esc(delta)}</div></div>'
    )


def kpi_tiles(summary: Mapping[str, Any], trend: Mapping[str, Any]) -> str:
    tiles = []
    have_previous = trend.get("compared_with") is not None
    for kpi in KPIS:
        value = lookup(summary, kpi.path)
        shown = fmt_pct(value) if kpi.kind == "rate" else fmt_int(value)
        change = (trend.get("kpis") or {}).get(kpi.path) or {}
        delta = change.get("delta")
        if have_previous:
            text = f"{fmt_delta(delta, kpi.kind)} vs last run" if delta is not None else DASH
        else:
            text = f"{DASH} no earlier report"
        tiles.append(_kpi_tile(kpi.label, shown, text, _direction(delta, kpi.higher_is_better)))
    return f'<div class="kpis">{"".join(tiles)}</div>'


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _share(part: Any, whole: Any) -> float | None:
    a, b = _number(part), _number(whole)
    return None if a is None or not b else a / b


def population_section(data: ReportData, charts: Charts) -> str:
    parts = [
        '<section class="card" id="population"><h2>Population</h2>',
        '<p class="lead">Who is in the warehouse on the as-of date: persons in '
        "<code>core.person</code>, enrolled member-months in <code>core.member_months</code>; "
        "the mix counts living persons.</p>",
    ]
    head = data.get("population")
    if head is None:
        parts.append(not_built(data.missing.get("population", []), "no population figures."))
        return "".join(parts) + "</section>"
    p = head[0] if head else {}
    parts.append(
        table(
            [Col(h, lambda r, k=k: fmt_int(r.get(k))) for h, k in _POPULATION_COLUMNS],
            [p],
        )
    )
    mix = data.get("population_mix") or []
    by_dim: dict[str, dict[str, int]] = {}
    for r in mix:
        by_dim.setdefault(r["dimension"], {})[r["category"]] = int(r["persons"])
    charts_html = []
    age_sex = by_dim.get("age_sex", {})
    if age_sex:
        sexes = sorted({k.split("|", 1)[1] for k in age_sex})
        bands = [b for b in AGE_BANDS if any(k.startswith(b + "|") for k in age_sex)]
        figure = go.Figure(
            [
                go.Bar(
                    name=_pretty(sex),
                    x=bands,
                    y=[age_sex.get(f"{b}|{sex}", 0) for b in bands],
                    marker_color=SERIES[i % len(SERIES)],
                    hovertemplate="%{x}: %{y:,} persons<extra>" + _pretty(sex) + "</extra>",
                )
                for i, sex in enumerate(sexes)
            ]
        )
        figure.update_layout(
            title="Living persons by age band and sex",
            barmode="group",
            yaxis_title="persons",
            xaxis_type="category",
        )
        charts_html.append(charts.html(figure))
    payers = by_dim.get("payer_type", {})
    if payers:
        figure = go.Figure(
            go.Pie(
                labels=[_pretty(k) for k in payers],
                values=list(payers.values()),
                hole=0.55,
                sort=False,
                marker={"colors": list(SERIES)},
                texttemplate="%{label}<br>%{percent:.1%}",
                hovertemplate="%{label}: %{value:,} persons<extra></extra>",
            )
        )
        figure.update_layout(title="Living persons by payer type", showlegend=False)
        charts_html.append(charts.html(figure))
    if charts_html:
        parts.append(f'<div class="grid2">{"".join(charts_html)}</div>')
    months = data.get("member_months_by_month") or []
    if months:
        payer_types = sorted({r["payer_type"] for r in months})
        month_axis = sorted({str(r["month_start_date"])[:7] for r in months})
        values = {
            (str(r["month_start_date"])[:7], r["payer_type"]): r["member_months"] for r in months
        }
        figure = go.Figure(
            [
                go.Bar(
                    name=_pretty(payer),
                    x=month_axis,
                    y=[values.get((m, payer), 0) for m in month_axis],
                    marker_color=SERIES[i % len(SERIES)],
                    hovertemplate="%{x}: %{y:,} member-months<extra>" + _pretty(payer) + "</extra>",
                )
                for i, payer in enumerate(payer_types)
            ]
        )
        figure.update_layout(
            title="Enrolled member-months by month and payer type",
            barmode="stack",
            legend_traceorder="normal",
            yaxis_title="member-months",
            xaxis={"type": "category", "nticks": 13, "tickangle": 0},
            bargap=0.1,
        )
        parts.append(charts.html(figure, height=320))
    alive = sum(by_dim.get("sex", {}).values())
    mix_tables = []
    for dimension, label in (("age_band", "age band"), ("sex", "sex"), ("payer_type", "payer")):
        values = by_dim.get(dimension, {})
        keys = [b for b in AGE_BANDS if b in values] if dimension == "age_band" else sorted(values)
        if not keys:
            continue
        mix_tables.append(
            "<div>"
            + table(
                [
                    Col(label, lambda r: r["category"], numeric=False),
                    Col("persons", lambda r: fmt_int(r["persons"])),
                    Col("share", lambda r: fmt_pct(_share(r["persons"], alive))),
                ],
                [{"category": _pretty(k), "persons": values[k]} for k in keys],
            )
            + "</div>"
        )
    if mix_tables:
        parts.append("<h3>Mix of living persons</h3>")
        parts.append(f'<div class="grid3">{"".join(mix_tables)}</div>')
    if "member_months_by_month" in data.missing:
        parts.append(not_built(data.missing["member_months_by_month"], "no enrolment by month."))
    return "".join(parts) + "</section>"


_POPULATION_COLUMNS = (
    ("persons", "persons"),
    ("alive", "persons_alive"),
    ("deceased", "persons_deceased"),
    ("enrolled in as-of month", "enrolled_as_of_month"),
    ("member-months, last 12 months", "member_months_12m"),
    ("member-months, all history", "member_months_total"),
)


def measures_section(
    data: ReportData, summary: Mapping[str, Any], trend: Mapping[str, Any], charts: Charts
) -> str:
    parts = [
        '<section class="card" id="measures"><h2>Quality measures</h2>',
        '<p class="lead">Overall rates of the HEDIS-/eCQM-style measures '
        "(<code>marts.measure_rates</code>, stratum <code>overall</code>). Rate = numerator / "
        "(denominator − exclusions); utilisation measures are per 1,000 member-years. Change is "
        "against the previous report; green is better, red worse (inverse measures count "
        "down).</p>",
    ]
    measures = summary.get("measures")
    if measures is None:
        parts.append(not_built(data.missing.get("measure_rates", []), "no measure rates."))
        return "".join(parts) + "</section>"
    if not measures:
        parts.append('<div class="note">No measure has a rate yet.</div>')
        return "".join(parts) + "</section>"
    periods = sorted({(m["period_start"], m["period_end"]) for m in measures.values()})
    if len(periods) == 1:
        parts.append(
            f'<div class="note">Measurement period {_esc(periods[0][0])} to '
            f"{_esc(periods[0][1])}.</div>"
        )
    changes = trend.get("measures") or {}
    proportions = [(k, m) for k, m in measures.items() if m["rate_unit"] == "proportion"]
    if proportions:
        labels = [f"{_esc(_short(m['title'], 46))} · {k}" for k, m in proportions]
        figure = go.Figure(
            go.Bar(
                name="this run",
                showlegend=False,
                y=labels,
                x=[m["rate"] for _, m in proportions],
                orientation="h",
                marker_color=[
                    ACCENT if m["higher_is_better"] else "#f97316" for _, m in proportions
                ],
                text=[fmt_pct(m["rate"]) for _, m in proportions],
                textposition="outside",
                cliponaxis=False,
                customdata=[
                    [fmt_int(m["denominator"]), fmt_int(m["numerator"])] for _, m in proportions
                ],
                hovertemplate="%{y}<br>rate %{x:.1%}<br>numerator %{customdata[1]} of "
                "%{customdata[0]}<extra></extra>",
            )
        )
        previous = [changes.get(k, {}).get("previous") for k, _ in proportions]
        if any(v is not None for v in previous):
            figure.add_trace(
                go.Scatter(
                    name="previous report",
                    y=labels,
                    x=previous,
                    mode="markers",
                    marker={
                        "symbol": "line-ns-open",
                        "size": 16,
                        "color": INK,
                        "line": {"width": 2},
                    },
                    hovertemplate="previous %{x:.1%}<extra></extra>",
                )
            )
        figure.update_layout(
            title="Overall rates (blue: higher is better; orange: inverse, lower is better)",
            xaxis={"tickformat": ".0%", "range": [0, 1.12]},
            yaxis={"autorange": "reversed"},
            margin={"l": 330},
            showlegend=any(v is not None for v in previous),
        )
        parts.append(charts.html(figure, height=max(320, 34 * len(proportions) + 110)))

    def change(r: Mapping[str, Any]) -> str:
        c = changes.get(r["id"]) or {}
        kind = "per_1000_member_years" if r["rate_unit"] == "per_1000_member_years" else "rate"
        return fmt_delta(c.get("delta"), kind)

    def change_cls(r: Mapping[str, Any]) -> str:
        c = changes.get(r["id"]) or {}
        return _direction(c.get("delta"), r["higher_is_better"])

    rows = [{"id": k, **m} for k, m in measures.items()]
    parts.append(
        table(
            [
                Col("measure", lambda r: r["id"], numeric=False),
                Col("title", lambda r: r["title"], numeric=False),
            ]
            + (
                [Col("period", lambda r: f"{r['period_start']} to {r['period_end']}", False)]
                if len(periods) > 1
                else []
            )
            + [
                Col("denominator", lambda r: fmt_int(r["denominator"])),
                Col("exclusions", lambda r: fmt_int(r["exclusions"])),
                Col("numerator", lambda r: fmt_int(r["numerator"])),
                Col("rate", lambda r: fmt_rate(r["rate"], r["rate_unit"])),
                Col(
                    "previous",
                    lambda r: fmt_rate(
                        (changes.get(r["id"]) or {}).get("previous"), r["rate_unit"]
                    ),
                ),
                Col("change", change, cls=change_cls),
            ],
            rows,
        )
    )
    return "".join(parts) + "</section>"


def readmissions_section(data: ReportData, summary: Mapping[str, Any], charts: Charts) -> str:
    parts = [
        '<section class="card" id="readmissions"><h2>Readmissions</h2>',
        '<p class="lead">CMS hospital-wide 30-day unplanned readmissions, all payers, observed '
        "(not risk-standardised) rate from <code>marts.readmission_rates</code>; the month is "
        "the index discharge month, the facility the discharging hospital's NPI.</p>",
    ]
    rows = data.get("readmission_rates")
    if rows is None:
        parts.append(not_built(data.missing.get("readmission_rates", []), "no readmission rates."))
        return "".join(parts) + "</section>"
    overall = summary.get("readmission") or {}
    parts.append(
        f'<div class="note">Overall: <b>{fmt_pct(overall.get("rate"))}</b> — '
        f"{fmt_int(overall.get('readmissions'))} readmissions after "
        f"{fmt_int(overall.get('index_stays'))} index stays.</div>"
    )
    by = {g: [r for r in rows if r["grouping"] == g] for g in {r["grouping"] for r in rows}}
    months = by.get("discharge_month", [])
    charts_html = []
    if months:
        # Stays as bars on the primary axis (drawn underneath, scale on the right), the rate as a
        # line on the overlaid axis (drawn on top, scale on the left).
        figure = make_subplots(specs=[[{"secondary_y": True}]])
        figure.add_trace(
            go.Bar(
                name="index stays (right axis)",
                x=[r["group_value"] for r in months],
                y=[r["index_stays"] for r in months],
                marker_color="#dbe3ee",
                hovertemplate="%{x}: %{y:,} index stays<extra></extra>",
            ),
            secondary_y=False,
        )
        figure.add_trace(
            go.Scatter(
                name="readmission rate (left axis)",
                x=[r["group_value"] for r in months],
                y=[r["rate"] for r in months],
                mode="lines+markers",
                line={"color": BAD, "width": 2},
                marker={"size": 5},
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            ),
            secondary_y=True,
        )
        figure.update_layout(
            title="Readmission rate by discharge month",
            yaxis={"side": "right", "showgrid": False, "rangemode": "tozero"},
            yaxis2={"side": "left", "tickformat": ".0%", "rangemode": "tozero", "dtick": 0.1},
            margin={"r": 50},
        )
        figure.update_xaxes(type="category", nticks=7, tickangle=0)
        charts_html.append(charts.html(figure))
    facilities = sorted(by.get("facility", []), key=lambda r: -(r["index_stays"] or 0))
    if facilities:
        figure = go.Figure(
            go.Bar(
                x=[f"NPI {r['group_value']}" for r in facilities],
                y=[r["rate"] for r in facilities],
                marker_color=ACCENT,
                text=[f"{fmt_pct(r['rate'])}<br>n={fmt_int(r['index_stays'])}" for r in facilities],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            )
        )
        figure.update_layout(
            title="Readmission rate by discharging facility",
            xaxis_type="category",
            yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        )
        charts_html.append(charts.html(figure))
    if charts_html:
        parts.append(f'<div class="grid2">{"".join(charts_html)}</div>')
    labels = {"facility": "Facility (NPI)", "payer": "Payer", "age_band": "Age band"}
    detail = [r for g in ("facility", "payer", "age_band") for r in by.get(g, [])]
    if detail:
        parts.append("<h3>By facility, payer and age band</h3>")
        parts.append(
            table(
                [
                    Col("grouping", lambda r: labels[r["grouping"]], numeric=False),
                    Col("group", lambda r: r["group_value"], numeric=False),
                    Col("index stays", lambda r: fmt_int(r["index_stays"])),
                    Col("readmissions", lambda r: fmt_int(r["readmissions"])),
                    Col("rate", lambda r: fmt_pct(r["rate"])),
                ],
                detail,
            )
        )
    return "".join(parts) + "</section>"


def _metric_cell(entry: Mapping[str, Any] | None, digits: int) -> str:
    if not entry or entry.get("value") is None:
        return DASH
    text = f"{entry['value']:.{digits}f}"
    if entry.get("low") is not None and entry.get("high") is not None:
        text += f" ({entry['low']:.{digits}f}–{entry['high']:.{digits}f})"
    return text


def risk_section(data: ReportData, summary: Mapping[str, Any], charts: Charts) -> str:
    parts = [
        '<section class="card" id="risk"><h2>Risk tiers and model calibration</h2>',
        '<p class="lead">Risk of unplanned admission or ED visit in 180 days '
        "(<code>marts.risk_scores</code>): tier sizes, and the scoring model's validation from "
        "its registry metadata (the model card's numbers). Expected events = sum of the "
        "calibrated probabilities.</p>",
    ]
    tiers = data.get("risk_tiers")
    if tiers is None:
        parts.append(not_built(data.missing.get("risk_tiers", []), "no risk tiers."))
    else:
        versions = data.get("risk_model_versions") or []
        if versions:
            names = ", ".join(
                f"<code>{_esc(v['model_version'])}</code> ({fmt_int(v['persons'])} persons, "
                f"scored {_esc(v['scoring_date'])})"
                for v in versions
            )
            parts.append(f'<div class="note">Scored with {names}.</div>')
        scored = sum(int(r["persons"]) for r in tiers)
        charts_html = []
        if tiers:
            figure = go.Figure(
                go.Bar(
                    x=[_pretty(r["tier"]) for r in tiers],
                    y=[r["persons"] for r in tiers],
                    marker_color=[TIER_COLOURS.get(r["tier"], MUTED) for r in tiers],
                    text=[fmt_int(r["persons"]) for r in tiers],
                    textposition="outside",
                    cliponaxis=False,
                    hovertemplate="%{x}: %{y:,} persons<extra></extra>",
                )
            )
            figure.update_layout(title="Persons by risk tier", yaxis_title="persons")
            charts_html.append(charts.html(figure))
        reliability = (data.model or {}).get("reliability") or {}
        if reliability:
            figure = go.Figure()
            top = max(
                [0.05]
                + [
                    max(p["predicted"] or 0, p["observed"] or 0)
                    for curve in reliability.values()
                    for p in curve
                ]
            )
            top = min(1.0, top * 1.08)
            figure.add_trace(
                go.Scatter(
                    x=[0, top],
                    y=[0, top],
                    mode="lines",
                    name="perfect calibration",
                    line={"color": "#94a3b8", "dash": "dash", "width": 1},
                    hoverinfo="skip",
                )
            )
            for name, curve in reliability.items():
                label, colour = MODEL_CURVES.get(name, (_pretty(name), MUTED))
                figure.add_trace(
                    go.Scatter(
                        x=[p["predicted"] for p in curve],
                        y=[p["observed"] for p in curve],
                        mode="lines+markers",
                        name=label,
                        line={"color": colour, "width": 3 if name == "model" else 1.5},
                        opacity=1 if name == "model" else 0.6,
                        hovertemplate="predicted %{x:.1%}, observed %{y:.1%}<extra>"
                        + label
                        + "</extra>",
                    )
                )
            figure.update_layout(
                title="Calibration on the validation date (score deciles)",
                xaxis={
                    "title": "mean predicted probability",
                    "tickformat": ".0%",
                    "range": [0, top],
                },
                yaxis={"title": "observed rate", "tickformat": ".0%", "range": [0, top]},
                legend={"y": -0.25},
            )
            charts_html.append(charts.html(figure, height=380))
        if charts_html:
            parts.append(f'<div class="grid2">{"".join(charts_html)}</div>')
        parts.append(
            table(
                [
                    Col("tier", lambda r: _pretty(r["tier"]), numeric=False),
                    Col("persons", lambda r: fmt_int(r["persons"])),
                    Col("share", lambda r: fmt_pct(_share(r["persons"], scored))),
                    Col("mean score", lambda r: fmt_pct(r["mean_score"])),
                    Col(
                        "score range",
                        lambda r: (
                            f"{fmt_pct(r['min_score'])} – {fmt_pct(r['max_score'])}"
                            if r.get("min_score") is not None
                            else DASH
                        ),
                    ),
                    Col("expected events, 180 days", lambda r: fmt_num(r["expected_events"], 1)),
                ],
                tiers,
                total={
                    "tier": "all",
                    "persons": scored,
                    "min_score": None,
                    "mean_score": _share(sum(r["expected_events"] or 0 for r in tiers), scored),
                    "expected_events": sum(r["expected_events"] or 0 for r in tiers),
                },
            )
        )
    parts.append(model_block(data))
    return "".join(parts) + "</section>"


def model_block(data: ReportData) -> str:
    if not data.model:
        return f'<h3>Model calibration</h3><div class="note">{_esc(data.model_note)}</div>'
    m = data.model
    parts = [
        "<h3>Model calibration</h3>",
        f"<p>Model <code>{_esc(m['version'])}</code>, trained as of {_esc(m['as_of'])}; label "
        f"<code>{_esc(m['label'])}</code>: {_esc(m['label_description'])}. Validation: "
        f"{fmt_int(m['validation_rows'])} person-dates, {fmt_int(m['validation_positives'])} "
        "with the outcome; 95% bootstrap intervals in brackets. Calibration slope 1 and O/E 1 "
        "are perfect.</p>",
    ]
    metrics = m.get("metrics") or {}
    if metrics:
        order = [k for k in MODEL_CURVES if k in metrics] + sorted(set(metrics) - set(MODEL_CURVES))
        parts.append(
            table(
                [
                    Col("score", lambda r: r["label"], numeric=False),
                    Col("AUROC", lambda r: _metric_cell(r["auroc"], 3)),
                    Col("AUPRC", lambda r: _metric_cell(r["auprc"], 3)),
                    Col("Brier", lambda r: _metric_cell(r["brier"], 4)),
                    Col("calibration slope", lambda r: _metric_cell(r["calibration_slope"], 2)),
                    Col("O/E", lambda r: _metric_cell(r["observed_expected"], 2)),
                ],
                [
                    {"label": MODEL_CURVES.get(k, (_pretty(k),))[0], **metrics[k]}
                    for k in order
                    if metrics.get(k)
                ],
            )
        )
    deciles = (m.get("reliability") or {}).get("model") or []
    if deciles:
        parts.append("<h3>Model calibration by score decile (validation)</h3>")
        parts.append(
            table(
                [
                    Col("decile", lambda r: r["decile"]),
                    Col("person-dates", lambda r: fmt_int(r["rows"])),
                    Col("mean predicted", lambda r: fmt_pct(r["predicted"])),
                    Col("observed", lambda r: fmt_pct(r["observed"])),
                    Col(
                        "observed − predicted",
                        lambda r: fmt_delta(_delta(r["observed"], r["predicted"]), "rate"),
                    ),
                ],
                [{"decile": i, **p} for i, p in enumerate(deciles, start=1)],
            )
        )
    return "".join(parts)


def quality_section(
    data: ReportData, summary: Mapping[str, Any], charts: Charts, dq_link: str | None
) -> str:
    parts = [
        '<section class="card" id="quality"><h2>Data quality</h2>',
        '<p class="lead">Input files as loaded: per-file reconciliation '
        "(<code>audit.file_reconciliation</code>: rows read = loaded + quarantined), load "
        "history (<code>audit.load_log</code>) and rows refused by a rule "
        "(<code>audit.quarantine</code>, counted by table and rule).",
    ]
    if dq_link:
        parts.append(f' Details per column: <a href="{_esc(dq_link)}">data-quality report</a>.')
    parts.append("</p>")
    loads = data.get("load_summary")
    if loads is None:
        parts.append(not_built(data.missing.get("load_summary", []), "no load bookkeeping."))
    else:
        q = summary.get("data_quality") or {}
        unbalanced = q.get("files_unbalanced") or 0
        cls = "note ok" if not unbalanced else "note missing"
        parts.append(
            f'<div class="{cls}">{fmt_int(q.get("files"))} files in {fmt_int(q.get("tables"))} '
            f"tables: {fmt_int(q.get('rows_read'))} rows read, {fmt_int(q.get('rows_loaded'))} "
            f"loaded, {fmt_int(q.get('rows_quarantined'))} quarantined "
            f"({fmt_pct(_share(q.get('rows_quarantined'), q.get('rows_read')), 2)}); "
            f"{fmt_int(unbalanced)} files out of balance.</div>"
        )
        totals = {
            k: sum(r[k] or 0 for r in loads)
            for k in ("files", "rows_read", "rows_loaded", "rows_quarantined", "loads_logged")
        }
        parts.append(
            table(
                [
                    Col("table", lambda r: r["table_name"], numeric=False),
                    Col("files", lambda r: fmt_int(r["files"])),
                    Col("rows read", lambda r: fmt_int(r["rows_read"])),
                    Col("rows loaded", lambda r: fmt_int(r["rows_loaded"])),
                    Col("quarantined", lambda r: fmt_int(r["rows_quarantined"])),
                    Col(
                        "balanced",
                        lambda r: (
                            DASH
                            if r.get("files_unbalanced") is None
                            else (
                                "yes"
                                if not r["files_unbalanced"]
                                else f"{r['files_unbalanced']} files NO"
                            )
                        ),
                        numeric=False,
                        cls=lambda r: "worse" if r.get("files_unbalanced") else "",
                    ),
                    Col("loads", lambda r: fmt_int(r["loads_logged"])),
                    Col(
                        "last loaded",
                        lambda r: str(r["last_loaded_at"] or "")[:16].replace("T", " "),
                        numeric=False,
                        cls=lambda r: "nw",
                    ),
                ],
                loads,
                total={
                    "table_name": "all",
                    "files_unbalanced": None,
                    "last_loaded_at": "",
                    **totals,
                },
            )
        )
    quarantine = data.get("quarantine")
    if quarantine is None:
        parts.append(not_built(data.missing.get("quarantine", []), "no quarantine counts."))
    elif not quarantine:
        parts.append('<div class="note ok">No rows quarantined.</div>')
    else:
        rules = sorted({r["rule"] for r in quarantine})
        tables = sorted({r["table_name"] for r in quarantine})
        counts = {(r["table_name"], r["rule"]): r["entries"] for r in quarantine}
        figure = go.Figure(
            [
                go.Bar(
                    name=rule,
                    x=tables,
                    y=[counts.get((t, rule), 0) for t in tables],
                    marker_color=SERIES[i % len(SERIES)],
                    hovertemplate="%{x}: %{y:,} entries<extra>" + _esc(rule) + "</extra>",
                )
                for i, rule in enumerate(rules)
            ]
        )
        figure.update_layout(
            title="Quarantine entries by table and rule",
            barmode="stack",
            yaxis_title="entries",
            xaxis_type="category",
        )
        parts.append(charts.html(figure, height=320))
        parts.append(
            table(
                [
                    Col("table", lambda r: r["table_name"], numeric=False),
                    Col("rule", lambda r: r["rule"], numeric=False),
                    Col("entries", lambda r: fmt_int(r["entries"])),
                    Col("rows", lambda r: fmt_int(r["quarantined_rows"])),
                ],
                quarantine,
            )
        )
    return "".join(parts) + "</section>"


def outreach_section(data: ReportData, summary: Mapping[str, Any], charts: Charts) -> str:
    parts = [
        '<section class="card" id="outreach"><h2>Outreach lists</h2>',
        '<p class="lead">The morning\'s lists (<code>marts.outreach_list</code>) by team and '
        "priority group (1 = transition of care, 2 = complex or high risk, 3 = rising risk with a "
        "gap to close; see "
        "docs/outreach.md), and who was kept off them (<code>marts.outreach_suppressed</code>; "
        "each person counted once, under their first reason).</p>",
    ]
    lists = data.get("outreach_list")
    if lists is None:
        parts.append(not_built(data.missing.get("outreach_list", []), "no outreach lists."))
        return "".join(parts) + "</section>"
    o = summary.get("outreach") or {}
    parts.append(
        f'<div class="note">{fmt_int(o.get("list_rows"))} persons on lists '
        f"({fmt_int(o.get('over_capacity'))} over a team's capacity, in its overflow file); "
        f"{fmt_int(o.get('suppressed_persons'))} suppressed and "
        f"{fmt_int(o.get('routed_persons'))} routed to their care manager.</div>"
    )
    teams = sorted({r["team"] for r in lists})
    groups = sorted({str(r["priority_group"]) for r in lists})
    by_team_group: dict[tuple[str, str], int] = {}
    over: dict[str, int] = {}
    for r in lists:
        key = (r["team"], str(r["priority_group"]))
        by_team_group[key] = by_team_group.get(key, 0) + int(r["persons"])
        if r["assignment"] == "over_capacity":
            over[r["team"]] = over.get(r["team"], 0) + int(r["persons"])
    charts_html = []
    if lists:
        figure = go.Figure(
            [
                go.Bar(
                    name=f"priority group {g}",
                    x=teams,
                    y=[by_team_group.get((t, g), 0) for t in teams],
                    marker_color=GROUP_COLOURS.get(g, MUTED),
                    hovertemplate="%{x}: %{y:,} persons<extra>group " + g + "</extra>",
                )
                for g in groups
            ]
        )
        figure.update_layout(
            title="Persons on lists by team and priority group",
            legend_traceorder="normal",
            barmode="stack",
            xaxis_type="category",
            yaxis_title="persons",
        )
        charts_html.append(charts.html(figure))
    suppressed = data.get("outreach_suppressed")
    first_reasons = [r for r in suppressed or [] if r["primary_persons"]]
    if first_reasons:
        figure = go.Figure(
            go.Bar(
                y=[
                    f"{_pretty(r['reason'])} ({r['outcome'].replace('_', ' ')})"
                    for r in first_reasons
                ],
                x=[r["primary_persons"] for r in first_reasons],
                orientation="h",
                marker_color=[
                    "#0d9488" if r["outcome"] != "suppressed" else MUTED for r in first_reasons
                ],
                text=[fmt_int(r["primary_persons"]) for r in first_reasons],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y}: %{x:,} persons<extra></extra>",
            )
        )
        figure.update_layout(
            title="Kept off the lists, by first reason",
            xaxis_title="persons",
            yaxis={"autorange": "reversed"},
            margin={"l": 260},
        )
        charts_html.append(charts.html(figure))
    if charts_html:
        parts.append(f'<div class="grid2">{"".join(charts_html)}</div>')
    team_rows = [
        {"team": t, **{g: by_team_group.get((t, g), 0) for g in groups}, "over": over.get(t, 0)}
        for t in teams
    ]
    total = {
        "team": "all",
        **{g: sum(r[g] for r in team_rows) for g in groups},
        "over": sum(over.values()),
    }
    parts.append("<h3>List sizes</h3>")
    parts.append(
        table(
            [Col("team", lambda r: r["team"], numeric=False)]
            + [Col(f"group {g}", lambda r, g=g: fmt_int(r[g])) for g in groups]
            + [
                Col("total", lambda r: fmt_int(sum(r[g] for g in groups))),
                Col("over capacity", lambda r: fmt_int(r["over"])),
            ],
            team_rows,
            total=total,
        )
    )
    if suppressed is None:
        parts.append(
            not_built(data.missing.get("outreach_suppressed", []), "no suppression counts.")
        )
    elif suppressed:
        parts.append("<h3>Kept off the lists</h3>")
        parts.append(
            table(
                [
                    Col("reason", lambda r: _pretty(r["reason"]), numeric=False),
                    Col("outcome", lambda r: r["outcome"].replace("_", " "), numeric=False),
                    Col("persons (first reason)", lambda r: fmt_int(r["primary_persons"])),
                    Col("persons (reason applies)", lambda r: fmt_int(r["any_persons"])),
                ],
                suppressed,
            )
        )
    return "".join(parts) + "</section>"


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def _when(iso: Any) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM UTC' (as given when it is not one)."""
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso or "?")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _compared_with_text(trend: Mapping[str, Any]) -> str:
    previous = trend.get("compared_with")
    if not previous:
        return f"Trend: {DASH} (no earlier report under this output folder)"
    if previous.get("basis") == "same_date":
        return (
            f"Trend vs the previous run for the same date (run {previous.get('run_id') or '?'}, "
            f"{_when(previous.get('generated_at'))})"
        )
    return (
        f"Trend vs the report as of {previous.get('as_of')} (run {previous.get('run_id') or '?'})"
    )


def render_page(
    data: ReportData,
    summary: Mapping[str, Any],
    trend: Mapping[str, Any],
    dq_link: str | None = None,
) -> tuple[str, int]:
    """The report's HTML and the number of charts on it."""
    charts = Charts()
    sections = [
        population_section(data, charts),
        measures_section(data, summary, trend, charts),
        readmissions_section(data, summary, charts),
        risk_section(data, summary, charts),
        quality_section(data, summary, charts, dq_link),
        outreach_section(data, summary, charts),
    ]
    as_of = summary["as_of"]
    not_built_tables = summary.get("not_built") or []
    banner = (
        '<div class="note missing"><b>Partial report.</b> Not built yet: '
        + ", ".join(f"<code>{_esc(t)}</code>" for t in not_built_tables)
        + ". The sections that read them say so.</div>"
        if not_built_tables
        else ""
    )
    toc = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (
            ("population", "Population"),
            ("measures", "Quality measures"),
            ("readmissions", "Readmissions"),
            ("risk", "Risk"),
            ("quality", "Data quality"),
            ("outreach", "Outreach"),
        )
    )
    page = "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>popcare run report {_esc(as_of)}</title><style>{_STYLE}</style></head><body>",
            '<header class="top"><h1>popcare run report — as of ',
            f"{_esc(as_of)}</h1>",
            f'<div class="meta">Run <b>{_esc(summary["run_id"])}</b> · generated '
            f"{_esc(_when(summary['generated_at']))} · {_esc(_compared_with_text(trend))}</div>"
            "</header>",
            f'<nav class="toc">{toc}</nav><main>',
            banner,
            kpi_tiles(summary, trend),
            *sections,
            "<footer>Aggregates only: counts, rates and model metrics; no person-level data. "
            "Where each number comes from: docs/report.md.</footer>",
            "</main></body></html>",
        ]
    )
    return page, charts.count


def write_run_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    as_of: date,
    run_id: str,
    models_home: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Gather, compare with the previous report, render and write OUT/report/<as_of>/index.html
    and summary.json (owner-only, atomic). Returns counts and paths for the asset's metadata."""
    generated_at = now or datetime.now(UTC)
    report_root = out_dir / "report"
    folder = report_root / as_of.isoformat()
    data = gather(con, as_of, models_home)
    summary = summarise(data, run_id, generated_at)
    # Read before this run's summary replaces a same-date one.
    previous = find_previous_summary(report_root, as_of, run_id)
    trend = compute_trend(summary, *(previous or (None, None)))
    summary["trend"] = trend
    dq_page = out_dir / "data-quality" / as_of.isoformat() / "index.html"
    dq_link = f"../../data-quality/{as_of.isoformat()}/index.html" if dq_page.is_file() else None
    page, chart_count = render_page(data, summary, trend, dq_link)
    ensure_private_dir(out_dir / "report")
    ensure_private_dir(folder)
    page_path = folder / PAGE_FILE
    write_chunks_atomic(page_path, [page.encode("utf-8")])
    summary_path = folder / SUMMARY_FILE
    write_json_atomic(summary_path, summary)
    return {
        "path": str(page_path),
        "summary": str(summary_path),
        "bytes": page_path.stat().st_size,
        "charts": chart_count,
        "measures": len(summary.get("measures") or {}),
        "trend_available": trend["compared_with"] is not None,
        "compared_with": trend["compared_with"],
        "not_built": summary["not_built"],
    }
