"""The run report: real numbers from a hand-built warehouse, trend against the previous report,
self-contained owner-only HTML with no identifiers, the sample run, and a headless screenshot."""

import json
import os
import re
import shutil
import stat
import struct
import subprocess
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.outreach import write_json_atomic
from pipelines.report import (
    SUMMARY_SCHEMA,
    compute_trend,
    find_previous_summary,
    fmt_delta,
    fmt_int,
    fmt_pct,
    write_run_report,
)
from pipelines.settings import SAMPLE_AS_OF
from pipelines.sql import run_sql

AS_OF = date(2026, 9, 30)
NOW = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
EXTERNAL_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE
)
MODEL_VERSION = "acute_use_180d-20260930-0123456789ab"
# Synthetic people of the hand-built warehouse: none of these may reach the page or the summary.
PEOPLE = {
    "PX900001": ("Zelda", "Quixotic", "female", 30, "commercial", False),
    "PX900002": ("Yannick", "Brambleford", "male", 70, "medicare", False),
    "PX900003": ("Xiomara", "Thistlewood", "female", 50, "medicaid", False),
    "PX900004": ("Wilbur", "Fennimore", "male", 80, "medicare", True),
}


def _months(start: date, count: int) -> list[date]:
    out, year, month = [], start.year, start.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def build_warehouse(con: duckdb.DuckDBPyConnection, *, marts: bool = True) -> None:
    """A warehouse small enough to check by hand (the numbers the tests assert are below)."""
    for schema in ("core", "marts"):
        con.execute(f"create schema if not exists {schema}")
    con.execute(
        "create table core.person (person_id varchar, first_name varchar, last_name varchar, "
        "sex varchar, age_as_of bigint, payer_type varchar, is_deceased boolean, phone varchar)"
    )
    for pid, (first, last, sex, age, payer, dead) in PEOPLE.items():
        con.execute(
            "insert into core.person values (?, ?, ?, ?, ?, ?, ?, '6145550199')",
            [pid, first, last, sex, age, payer, dead],
        )
    con.execute(
        "create table core.member_months (person_id varchar, year_month varchar, "
        "month_start_date date, payer_type varchar)"
    )
    # PX900001: 12 months to 2026-09; PX900002: 6 months to 2026-09; PX900003: 2026-09 and one
    # month after the as-of date (not counted). 12-month and all-history member-months: 19.
    spans = {
        "PX900001": (date(2025, 10, 1), 12, "commercial"),
        "PX900002": (date(2026, 4, 1), 6, "medicare"),
        "PX900003": (date(2026, 9, 1), 2, "medicaid"),
    }
    for pid, (start, count, payer) in spans.items():
        for month in _months(start, count):
            con.execute(
                "insert into core.member_months values (?, ?, ?, ?)",
                [pid, month.strftime("%Y%m"), month, payer],
            )
    run_sql(con, "raw/audit_tables")
    loaded = datetime(2026, 10, 1, 1, 0)
    for table, read, good, bad in (("eligibility", 10, 8, 2), ("patient", 4, 4, 0)):
        con.execute(
            "insert into audit.load_log values ('L1', ?, ?, 'sha', 100, 'csv', ?, ?, ?, "
            "'loaded', ?)",
            [table, f"{table}.csv", read, good, bad, loaded],
        )
        con.execute(
            "insert into audit.file_reconciliation values (?, ?, ?, ?, ?, true)",
            [table, f"{table}.csv", read, good, bad],
        )
    for row, rule in ((5, "missing_person_id"), (6, "missing_person_id"), (5, "bad_date")):
        con.execute(
            "insert into audit.quarantine values ('L1', 'eligibility', 'eligibility.csv', ?, "
            "'person_id', ?, 'detail PX900001', 'PX900001,Zelda,Quixotic')",
            [row, rule],
        )
    if not marts:
        return
    con.execute(
        "create table marts.measure_rates (measure_id varchar, period_start date, period_end "
        "date, stratum varchar, stratum_value varchar, denominator double, exclusions double, "
        "numerator double, rate double, rate_unit varchar, higher_is_better boolean)"
    )
    period = [date(2026, 1, 1), date(2026, 12, 31)]
    for row in (
        ("cms125", "overall", "all", 10, 0, 5, 0.5, "proportion", True),
        ("cms125", "sex", "female", 6, 0, 4, 0.6667, "proportion", True),
        ("cms122", "overall", "all", 20, 0, 4, 0.2, "proportion", False),
        ("edu", "overall", "all", 907, 0, 269, 296.5549, "per_1000_member_years", True),
    ):
        con.execute(
            "insert into marts.measure_rates values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row[0], *period, *row[1:]],
        )
    con.execute(
        "create table marts.readmission_rates (grouping varchar, group_value varchar, "
        "index_stays bigint, readmissions bigint, rate double)"
    )
    con.execute(
        "insert into marts.readmission_rates values ('overall', 'all', 20, 3, 0.15), "
        "('discharge_month', '2026-08', 10, 1, 0.1), ('discharge_month', '2026-09', 10, 2, 0.2), "
        "('facility', '1234567893', 20, 3, 0.15), ('payer', 'medicare', 20, 3, 0.15)"
    )
    con.execute(
        "create table marts.risk_scores (person_id varchar, scoring_date date, model_version "
        "varchar, score double, percentile double, tier varchar, reason_1 varchar, "
        "reason_2 varchar, reason_3 varchar)"
    )
    scores = (("PX900001", 0.5, "complex"), ("PX900002", 0.3, "high"), ("PX900003", 0.1, "low"))
    for pid, score, tier in scores:
        con.execute(
            "insert into marts.risk_scores values (?, ?, ?, ?, 0.5, ?, 'r1', 'r2', 'r3')",
            [pid, AS_OF, MODEL_VERSION, score, tier],
        )
    con.execute(
        "create table marts.outreach_list (team varchar, rank integer, priority_group integer, "
        "person_id varchar, first_name varchar, last_name varchar, assignment varchar)"
    )
    for team, rank, group, pid, assignment in (
        ("north", 1, 1, "PX900001", "coordinator"),
        ("north", 2, 2, "PX900002", "coordinator"),
        ("south", 1, 3, "PX900003", "over_capacity"),
    ):
        first, last = PEOPLE[pid][:2]
        con.execute(
            "insert into marts.outreach_list values (?, ?, ?, ?, ?, ?, ?)",
            [team, rank, group, pid, first, last, assignment],
        )
    con.execute(
        "create table marts.outreach_suppressed (person_id varchar, reason varchar, "
        "reason_order integer, detail varchar, is_primary boolean, outcome varchar)"
    )
    con.execute(
        "insert into marts.outreach_suppressed values "
        "('PX900004', 'deceased', 1, null, true, 'suppressed'), "
        "('PX900004', 'hospice', 2, null, false, 'suppressed'), "
        "('PX900003', 'opted_out', 5, null, true, 'suppressed')"
    )


def register_fake_model(warehouse: Path) -> None:
    """A registry entry beside ``warehouse`` with the metadata the report reads."""
    folder = Path(f"{warehouse}.models") / MODEL_VERSION
    folder.mkdir(parents=True)
    metric = {"value": 0.7, "low": 0.65, "high": 0.75}
    meta = {
        "version": MODEL_VERSION,
        "label": "acute_use_180d",
        "registered_at": "2026-10-01T01:00:00+00:00",
        "as_of": "2026-09-30",
        "label_spec": {"name": "acute_use_180d", "description": "acute care in 180 days"},
        "rows": {"validation": {"rows": 300, "positives": 45}},
        "validation": {
            "overall": {
                "scores": {
                    "model": {
                        "auroc": metric,
                        "calibration_slope": {"value": 1.05, "low": 0.9, "high": 1.2},
                        "observed_expected": {"value": 0.98, "low": 0.9, "high": 1.1},
                    }
                }
            },
            "reliability": {
                "model": [
                    {"predicted": 0.05, "observed": 0.04, "rows": 150},
                    {"predicted": 0.25, "observed": 0.27, "rows": 150},
                ]
            },
        },
    }
    (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.fixture
def warehouse(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        build_warehouse(con)
    con = duckdb.connect(str(path), read_only=True)
    yield con, path
    con.close()


def _report(con, out: Path, run_id: str = "run-b", models_home: Path | None = None) -> dict:
    return write_run_report(con, out, AS_OF, run_id, models_home=models_home, now=NOW)


def _summary(out: Path, as_of: date = AS_OF) -> dict:
    return json.loads((out / "report" / as_of.isoformat() / "summary.json").read_text())


def _page(out: Path, as_of: date = AS_OF) -> str:
    return (out / "report" / as_of.isoformat() / "index.html").read_text(encoding="utf-8")


def _assert_no_identifiers(text: str) -> None:
    for pid, (first, last, *_) in PEOPLE.items():
        assert pid not in text
        assert first not in text and last not in text
    assert "6145550199" not in text


# ---- the numbers -----------------------------------------------------------------------------


def test_summary_holds_the_warehouse_numbers(warehouse, tmp_path):
    con, path = warehouse
    register_fake_model(path)
    stats = _report(con, tmp_path / "out", models_home=path)
    summary = _summary(tmp_path / "out")
    assert summary["schema"] == SUMMARY_SCHEMA and summary["as_of"] == "2026-09-30"
    assert summary["population"] == {
        "persons": 4,
        "persons_alive": 3,
        "persons_deceased": 1,
        "member_months_12m": 19,
        "member_months_total": 19,
        "enrolled_as_of_month": 3,
        "age_band": {"18-44": 1, "45-64": 1, "65-74": 1},
        "sex": {"female": 2, "male": 1},
        "payer_type": {"commercial": 1, "medicaid": 1, "medicare": 1},
    }
    assert set(summary["measures"]) == {"cms122", "cms125", "edu"}  # overall stratum only
    assert summary["measures"]["cms125"]["rate"] == 0.5
    assert summary["measures"]["cms125"]["numerator"] == 5
    assert summary["measures"]["cms122"]["higher_is_better"] is False
    assert summary["measures"]["edu"]["rate_unit"] == "per_1000_member_years"
    assert summary["readmission"] == {"index_stays": 20, "readmissions": 3, "rate": 0.15}
    assert summary["risk"] == {
        "persons_scored": 3,
        "tiers": {"complex": 1, "high": 1, "low": 1},
        "complex_high": 2,
        "model_version": MODEL_VERSION,
    }
    assert summary["model"] == {
        "version": MODEL_VERSION,
        "auroc": 0.7,
        "calibration_slope": 1.05,
        "observed_expected": 0.98,
    }
    assert summary["data_quality"] == {
        "tables": 2,
        "files": 2,
        "rows_read": 14,
        "rows_loaded": 12,
        "rows_quarantined": 2,
        "files_unbalanced": 0,
        "quarantine_entries": 3,
    }
    assert summary["outreach"] == {
        "list_rows": 3,
        "over_capacity": 1,
        "by_team": {"north": 2, "south": 1},
        "by_priority_group": {"1": 1, "2": 1, "3": 1},
        "suppressed_persons": 2,
        "routed_persons": 0,
    }
    assert summary["not_built"] == []
    assert stats["measures"] == 3 and stats["trend_available"] is False
    assert stats["charts"] >= 8


def test_page_is_self_contained_formatted_and_free_of_identifiers(warehouse, tmp_path):
    con, path = warehouse
    register_fake_model(path)
    stats = _report(con, tmp_path / "out", models_home=path)
    page = _page(tmp_path / "out")
    assert '<script src="http' not in page and "<script src='http" not in page
    # No tag loads anything from the network (plotly.js only names its CDN as a geo-map default).
    assert not EXTERNAL_RESOURCE.search(page)
    assert page.count("Plotly.newPlot") == stats["charts"]
    assert page.count("plotly.js v") >= 1  # the library itself, inlined once
    assert "popcare run report — as of 2026-09-30" in page and "run-b" in page
    assert "50.0%" in page and "15.0%" in page  # rates as percentages
    assert "296.6 / 1,000 MY" in page
    assert "Calibration on the validation date" in page and "1.05 (0.90–1.20)" in page
    assert "Not built" not in page
    _assert_no_identifiers(page)
    _assert_no_identifiers(
        (tmp_path / "out" / "report" / "2026-09-30" / "summary.json").read_text()
    )


def test_files_are_owner_only_and_replaced_atomically(warehouse, tmp_path):
    con, _ = warehouse
    out = tmp_path / "out"
    _report(con, out, run_id="run-a")
    _report(con, out, run_id="run-b")
    folder = out / "report" / "2026-09-30"
    for name in ("index.html", "summary.json"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "report").stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "summary.json"]


# ---- trend -----------------------------------------------------------------------------------


def _previous_summary(out: Path, as_of: date, **changes) -> None:
    summary = {
        "schema": SUMMARY_SCHEMA,
        "as_of": as_of.isoformat(),
        "run_id": f"run-{as_of.isoformat()}",
        "generated_at": "2026-09-29T02:00:00+00:00",
        "population": {"persons_alive": 2, "member_months_12m": 19},
        "readmission": {"rate": 0.2},
        "measures": {
            "cms125": {"rate": 0.4, "rate_unit": "proportion"},
            "edu": {"rate": 300.0, "rate_unit": "per_1000_member_years"},
        },
    } | changes
    folder = out / "report" / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "summary.json", summary)


def test_trend_against_the_most_recent_earlier_report(warehouse, tmp_path):
    con, _ = warehouse
    out = tmp_path / "out"
    _previous_summary(out, date(2026, 9, 28), measures={"cms125": {"rate": 0.1}})
    _previous_summary(out, date(2026, 9, 29))
    _previous_summary(out, date(2026, 10, 1))  # a later as-of date (back-fill): never used
    (out / "report" / "not-a-date").mkdir()
    stats = _report(con, out)
    assert stats["trend_available"] is True
    trend = _summary(out)["trend"]
    assert trend["compared_with"]["as_of"] == "2026-09-29"
    assert trend["compared_with"]["basis"] == "earlier_date"
    assert trend["kpis"]["population.persons_alive"]["delta"] == 1
    assert trend["kpis"]["population.member_months_12m"]["delta"] == 0
    assert trend["kpis"]["readmission.rate"]["delta"] == pytest.approx(-0.05)
    assert trend["kpis"]["risk.complex_high"]["delta"] is None  # not in the previous summary
    assert trend["measures"]["cms125"]["delta"] == pytest.approx(0.1)
    assert trend["measures"]["edu"]["delta"] == pytest.approx(-3.4451)
    assert trend["measures"]["cms122"] == {"current": 0.2, "previous": None, "delta": None}
    page = _page(out)
    assert "Trend vs the report as of 2026-09-29" in page
    assert "+10.0 pts" in page and "-5.0 pts vs last run" in page and "+1 vs last run" in page
    assert '<td class="n better">+10.0 pts</td>' in page


def test_trend_falls_back_to_the_previous_run_of_the_same_date(warehouse, tmp_path):
    con, _ = warehouse
    out = tmp_path / "out"
    first = _report(con, out, run_id="run-a")
    assert first["trend_available"] is False
    page = _page(out)
    assert "Trend: — (no earlier report" in page and "— no earlier report" in page
    second = _report(con, out, run_id="run-b")
    assert second["compared_with"]["basis"] == "same_date"
    assert second["compared_with"]["run_id"] == "run-a"
    trend = _summary(out)["trend"]
    assert trend["measures"]["cms125"] == {"current": 0.5, "previous": 0.5, "delta": 0.0}
    # The same run writing again (a retried step) does not compare with itself.
    assert find_previous_summary(out / "report", AS_OF, "run-b") is None


def test_trend_helpers():
    assert compute_trend({"measures": {}}, None)["compared_with"] is None
    unit_changed = compute_trend(
        {"measures": {"m": {"rate": 0.5, "rate_unit": "proportion"}}},
        {"measures": {"m": {"rate": 300, "rate_unit": "per_1000_member_years"}}},
    )
    assert unit_changed["measures"]["m"]["delta"] is None
    assert fmt_int(1234567) == "1,234,567" and fmt_int(None) == "—"
    assert fmt_pct(0.12345) == "12.3%" and fmt_delta(-0.0123, "rate") == "-1.2 pts"
    assert fmt_delta(1500, "count") == "+1,500"


# ---- upstream not built ----------------------------------------------------------------------


def test_missing_marts_are_reported_not_built(tmp_path):
    with duckdb.connect() as con:
        build_warehouse(con, marts=False)
        stats = _report(con, tmp_path / "out")
    summary = _summary(tmp_path / "out")
    assert summary["measures"] is None and summary["risk"] is None
    assert summary["population"]["persons"] == 4
    assert "marts.measure_rates" in summary["not_built"]
    assert stats["measures"] == 0
    page = _page(tmp_path / "out")
    assert page.count("Not built.") == 4  # measures, readmissions, risk tiers, outreach lists
    assert "marts.risk_scores is not built, so no model is shown." in page
    _assert_no_identifiers(page)


def test_an_empty_warehouse_still_gives_a_page(tmp_path):
    with duckdb.connect() as con:
        stats = _report(con, tmp_path / "out")
    assert stats["charts"] == 0
    assert "Partial report." in _page(tmp_path / "out")


# ---- the sample run --------------------------------------------------------------------------


def test_the_nightly_job_writes_the_report(sample_nightly):
    folder = sample_nightly.out / "report" / SAMPLE_AS_OF.isoformat()
    page_path = folder / "index.html"
    assert page_path.is_file()
    assert stat.S_IMODE(page_path.stat().st_mode) == 0o600
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["not_built"] == []
    with duckdb.connect(str(sample_nightly.warehouse), read_only=True) as con:
        persons = con.execute("select count(*) from core.person").fetchone()[0]
        ids = {pid for (pid,) in con.execute("select person_id from core.person").fetchall()}
        measures = con.execute(
            "select count(*) from marts.measure_rates where stratum = 'overall'"
        ).fetchone()[0]
        listed = con.execute("select count(*) from marts.outreach_list").fetchone()[0]
    assert summary["population"]["persons"] == persons
    assert len(summary["measures"]) == measures > 0
    assert summary["outreach"]["list_rows"] == listed
    assert summary["model"] is not None or summary["risk"]["model_version"] == "baseline-fallback"
    page = page_path.read_text(encoding="utf-8")
    assert '<script src="http' not in page and not EXTERNAL_RESOURCE.search(page)
    pattern = re.compile("|".join(sorted({re.escape(p[:3]) for p in ids})) + r"\w+")
    assert not ids & set(pattern.findall(page))
    materialisations = [
        e
        for e in sample_nightly.result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.event_specific_data.materialization.asset_key.path == ["report", "run_report"]
    ]
    assert len(materialisations) == 1
    metadata = materialisations[0].event_specific_data.materialization.metadata
    assert metadata["measures"].value == measures
    assert metadata["charts"].value >= 8


# ---- headless screenshot ---------------------------------------------------------------------


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and rows of an 8-bit RGB/RGBA non-interlaced PNG (stdlib
    only: pillow is not a dependency)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, previous, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        if kind == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif kind == 2:
            line = bytearray((v + u) & 255 for v, u in zip(line, previous, strict=True))
        elif kind == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + previous[x]) >> 1)) & 255
        elif kind == 4:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                corner = previous[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + _paeth(left, previous[x], corner)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def _screenshot(page: Path, png: Path, profile: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed (Debian package 'chromium'); .ci/run installs it")
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(profile)},
    )
    assert png.is_file(), done.stdout + done.stderr


def test_the_page_renders_in_headless_chromium(sample_nightly, tmp_path):
    page = sample_nightly.out / "report" / SAMPLE_AS_OF.isoformat() / "index.html"
    png = tmp_path / "report.png"
    _screenshot(page, png, tmp_path / "chromium-profile")
    width, height, bpp, rows = decode_png(png.read_bytes())
    assert (width, height) == (1280, 2000)
    colours, ink, chart_blue, pixels = set(), 0, 0, 0
    for row in rows[::4]:
        for x in range(0, width * bpp, 4 * bpp):
            r, g, b = row[x], row[x + 1], row[x + 2]
            pixels += 1
            colours.add((r >> 3, g >> 3, b >> 3))
            ink += r + g + b < 600  # clearly not white or the pale page background
            chart_blue += abs(r - 29) < 24 and abs(g - 78) < 24 and abs(b - 216) < 24
    assert len(colours) > 60, len(colours)
    assert ink / pixels > 0.05, ink / pixels
    # Plotly drew its bars (#1d4ed8): text and links alone would not cover this many pixels.
    assert chart_blue / pixels > 0.01, chart_blue / pixels
