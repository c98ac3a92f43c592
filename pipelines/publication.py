"""The publication gate: what must hold before the outreach lists of a run are published.

Dagster runs the gate: every check here is a blocking asset check (pipelines/checks.py), and the
outreach assets are downstream of every gated table, so a failing check stops them in the same run
and the lists of the last good run stay where they are (``OUT/outreach/latest.json`` keeps naming
them). This module holds the logic of two of the checks as plain functions over a DuckDB
connection, so they can be tested on hand-built tables:

- **sanity bands** (``measures/sanity_bands.csv``): the overall rate of each quality measure and the
  overall 30-day readmission rate must fall inside a wide "the pipeline is broken" band. A measure
  with fewer eligible units than the band's ``min_denominator`` is skipped, with the reason.
- **row-count drop**: each gated table (staging and core) may hold at most ``POPCARE_MAX_ROW_DROP``
  (default 0.5) fewer rows than in the last published run, whose counts live in the warehouse
  (``audit.row_counts``, written when a run publishes). The first run has nothing to compare with
  and passes.

docs/orchestration.md documents the gate. Everything returned here is counts, rates and table
names: never a value from a row.
"""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

import measures as measures_pkg
from pipelines.contract import TABLES
from pipelines.core import CORE_TABLES
from pipelines.sql import quote_ident, run_sql

SANITY_BANDS_CSV = Path(measures_pkg.__file__).resolve().parent / "sanity_bands.csv"
READMISSION_BAND_ID = "readmission_30d"
BAND_COLUMNS = ("measure_id", "low", "high", "rate_unit", "min_denominator")
RATE_UNITS = ("proportion", "per_1000_member_years")

# The tables whose row counts are compared with the last published run: what was loaded (staging,
# one per contract table) and what the measures, readmissions and lists are computed from (core).
GATED_TABLES: tuple[tuple[str, str], ...] = (
    *(("staging", name) for name in TABLES),
    *(("core", table.name) for table in CORE_TABLES),
)


class SanityBandError(ValueError):
    """measures/sanity_bands.csv cannot be used; the message names the file, line and column."""


# --------------------------------------------------------------------------------------------
# Sanity bands


@dataclass(frozen=True)
class SanityBand:
    """A "pipeline is broken" band for one overall rate (not a performance target)."""

    measure_id: str
    low: float
    high: float
    rate_unit: str = "proportion"
    min_denominator: float = 30

    def format_rate(self, rate: float) -> str:
        if self.rate_unit == "proportion":
            return f"{rate:.1%}"
        return f"{rate:,.1f} per 1,000 member years"

    @property
    def label(self) -> str:
        if self.rate_unit == "proportion":
            return f"{self.low:.0%} to {self.high:.0%}"
        return f"{self.low:,g} to {self.high:,g} per 1,000 member years"


def _number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise SanityBandError(f"{where}: {column} {text!r} is not a number")
    return value


def parse_sanity_bands(text: str, source: str = "sanity_bands.csv") -> dict[str, SanityBand]:
    """Bands from CSV text; lines starting with '#' are comments."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = tuple((name or "").strip() for name in (reader.fieldnames or ()))
    if header != BAND_COLUMNS:
        raise SanityBandError(
            f"{source}: columns must be {', '.join(BAND_COLUMNS)}, found {', '.join(header)}"
        )
    bands: dict[str, SanityBand] = {}
    for number, row in enumerate(reader, start=2):
        where = f"{source} data row {number - 1}"
        values = {key: (value or "").strip() for key, value in row.items()}
        measure_id = values["measure_id"]
        if not measure_id or measure_id in bands:
            raise SanityBandError(f"{where}: measure_id {measure_id!r} is empty or repeated")
        low = _number(values["low"], where, "low")
        high = _number(values["high"], where, "high")
        minimum = _number(values["min_denominator"] or "0", where, "min_denominator")
        unit = values["rate_unit"] or "proportion"
        if unit not in RATE_UNITS:
            raise SanityBandError(f"{where}: rate_unit must be one of {', '.join(RATE_UNITS)}")
        if not 0 <= low <= high or (unit == "proportion" and high > 1) or minimum < 0:
            raise SanityBandError(
                f"{where}: need 0 <= low <= high (<= 1 for a proportion) and min_denominator >= 0"
            )
        bands[measure_id] = SanityBand(measure_id, low, high, unit, minimum)
    return bands


def load_sanity_bands(path: Path = SANITY_BANDS_CSV) -> dict[str, SanityBand]:
    return parse_sanity_bands(path.read_text(encoding="utf-8"), path.name)


@dataclass(frozen=True)
class BandOutcome:
    """One overall rate judged against its band. ``status``: inside, outside, skipped, no_band."""

    measure_id: str
    status: str
    rate: float | None
    eligible: float
    reason: str

    @property
    def passed(self) -> bool:
        return self.status != "outside"


def judge_rate(
    measure_id: str,
    rate: float | None,
    eligible: float | None,
    rate_unit: str,
    band: SanityBand | None,
) -> BandOutcome:
    """Inside (low <= rate <= high), outside, or skipped when too few units to judge."""
    eligible = float(eligible or 0)
    if band is None:
        return BandOutcome(
            measure_id, "no_band", rate, eligible, f"{measure_id}: no band in sanity_bands.csv"
        )
    if rate_unit != band.rate_unit:
        return BandOutcome(
            measure_id,
            "outside",
            rate,
            eligible,
            f"{measure_id}: rate is in {rate_unit} but its band is in {band.rate_unit}",
        )
    if eligible < band.min_denominator or rate is None:
        return BandOutcome(
            measure_id,
            "skipped",
            rate,
            eligible,
            f"{measure_id}: {eligible:,.0f} eligible, below the minimum of "
            f"{band.min_denominator:,.0f} needed to judge the rate",
        )
    shown = f"{measure_id}: {band.format_rate(rate)} (band {band.label})"
    if band.low <= rate <= band.high:
        return BandOutcome(measure_id, "inside", rate, eligible, shown)
    return BandOutcome(measure_id, "outside", rate, eligible, f"{shown} is outside its band")


def measure_band_outcomes(
    con: duckdb.DuckDBPyConnection, bands: Mapping[str, SanityBand]
) -> list[BandOutcome]:
    """Every measure's overall rate in marts.measure_rates against its band."""
    rows = run_sql(con, "audit/measure_rates_overall").fetchall()
    return [
        judge_rate(measure_id, rate, eligible, rate_unit, bands.get(measure_id))
        for measure_id, rate_unit, eligible, rate in rows
    ]


def readmission_band_outcome(
    con: duckdb.DuckDBPyConnection, bands: Mapping[str, SanityBand]
) -> BandOutcome:
    """The overall 30-day readmission rate (marts.readmission_rates) against its band."""
    row = run_sql(con, "audit/readmission_rate_overall").fetchone()
    eligible, rate = row if row else (0, None)
    return judge_rate(
        READMISSION_BAND_ID, rate, eligible, "proportion", bands.get(READMISSION_BAND_ID)
    )


def band_summary(outcomes: Sequence[BandOutcome]) -> dict[str, str | int]:
    """Counts and reasons per status (metadata of the band checks; rates, no identifiers)."""
    by_status: dict[str, list[str]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome.reason)
    outside = by_status.get("outside", [])
    return {
        "checked": len(outcomes),
        "inside": len(by_status.get("inside", [])),
        "outside": "; ".join(outside) or "none",
        "skipped": "; ".join(by_status.get("skipped", [])) or "none",
        "no_band": "; ".join(by_status.get("no_band", [])) or "none",
        "reason": (
            "; ".join(outside)
            if outside
            else f"{len(by_status.get('inside', []))} rate(s) inside their sanity bands"
        ),
    }


# --------------------------------------------------------------------------------------------
# Row-count drop


@dataclass(frozen=True)
class PreviousCount:
    row_count: int
    as_of: date
    run_id: str


@dataclass(frozen=True)
class RowDropOutcome:
    table: str
    current: int
    previous: PreviousCount | None
    max_drop: float
    drop: float | None  # the fraction of the previous rows gone; 0 when the table grew
    passed: bool
    reason: str


def judge_row_drop(
    table: str, current: int, previous: PreviousCount | None, max_drop: float
) -> RowDropOutcome:
    """Fails when the table lost more than ``max_drop`` of the previous count (exactly
    ``max_drop`` passes); passes on the first run and when the previous run had no rows."""
    if previous is None:
        return RowDropOutcome(
            table, current, None, max_drop, None, True, f"{table}: no previous run to compare with"
        )
    if previous.row_count <= 0:
        return RowDropOutcome(
            table,
            current,
            previous,
            max_drop,
            None,
            True,
            f"{table}: {current:,} rows; the previous run had none",
        )
    fell = max(previous.row_count - current, 0)
    drop = fell / previous.row_count
    # Exact decimal arithmetic: a drop of exactly the limit passes, whatever float rounding says.
    passed = Decimal(fell) <= Decimal(str(max_drop)) * Decimal(previous.row_count)
    reason = (
        f"{table}: {current:,} rows, {drop:.1%} fewer than the {previous.row_count:,} of the last "
        f"published run (as of {previous.as_of.isoformat()}); the limit is {max_drop:.0%} "
        "(POPCARE_MAX_ROW_DROP)"
    )
    if passed:
        reason = (
            f"{table}: {current:,} rows, {previous.row_count:,} in the last published run "
            f"(as of {previous.as_of.isoformat()})"
        )
    return RowDropOutcome(table, current, previous, max_drop, drop, passed, reason)


def ensure_row_counts_table(con: duckdb.DuckDBPyConnection) -> None:
    run_sql(con, "audit/row_counts")


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = $s and table_name = $n",
        {"s": schema, "n": name},
    ).fetchone()
    return bool(found and found[0])


def count_rows(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> int | None:
    """The table's row count; None when it does not exist."""
    if not _table_exists(con, schema, name):
        return None
    table = f"{quote_ident(schema)}.{quote_ident(name)}"
    return int(run_sql(con, "audit/count_rows", identifiers={"table": table}).fetchone()[0])


def previous_row_count(con: duckdb.DuckDBPyConnection, table: str) -> PreviousCount | None:
    """The count of ``table`` ('schema.name') in the last published run, if any."""
    ensure_row_counts_table(con)
    row = run_sql(con, "audit/previous_row_count", {"table_name": table}).fetchone()
    if row is None:
        return None
    return PreviousCount(row_count=int(row[0]), as_of=row[1], run_id=str(row[2]))


def row_drop_outcome(
    con: duckdb.DuckDBPyConnection, schema: str, name: str, max_drop: float
) -> RowDropOutcome:
    table = f"{schema}.{name}"
    current = count_rows(con, schema, name) or 0
    return judge_row_drop(table, current, previous_row_count(con, table), max_drop)


def record_row_counts(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    tables: Iterable[tuple[str, str]] = GATED_TABLES,
    recorded_at: datetime | None = None,
) -> dict[str, int]:
    """Record the counts of the gated tables that exist for a run that publishes; replaces the
    counts recorded before for the same as-of date. Returns table -> rows."""
    counts: dict[str, int] = {}
    for schema, name in tables:
        rows = count_rows(con, schema, name)
        if rows is not None:
            counts[f"{schema}.{name}"] = rows
    ensure_row_counts_table(con)
    frame = pa.table(
        {
            "table_name": pa.array(list(counts), pa.string()),
            "row_count": pa.array(list(counts.values()), pa.int64()),
        }
    )
    params = {"run_id": run_id, "as_of": as_of, "recorded_at": recorded_at or datetime.now()}
    con.register("row_count_rows", frame)
    con.begin()
    try:
        run_sql(con, "audit/record_row_counts", params)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("row_count_rows")
    return counts
