"""Environment-specific settings in one place.

Every path and date a run depends on is resolved here: from Dagster run config when given, else from
the environment (``POPCARE_INPUT``, ``POPCARE_WAREHOUSE``, ``POPCARE_OUT``, ``POPCARE_AS_OF``,
``POPCARE_MEASUREMENT_YEAR``), else from defaults that point at the bundled synthetic sample.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
DEFAULT_WAREHOUSE = REPO_ROOT / "data" / "warehouse.duckdb"
DEFAULT_OUT = REPO_ROOT / "data" / "out"

# The bundled sample is a fixed extract: its as-of date is the last day it covers, so a run on the
# sample gives the same answers whatever day it is run (docs/generator.md documents the window).
SAMPLE_AS_OF = date(2026, 9, 30)

ENV_INPUT = "POPCARE_INPUT"
ENV_WAREHOUSE = "POPCARE_WAREHOUSE"
ENV_OUT = "POPCARE_OUT"
ENV_AS_OF = "POPCARE_AS_OF"
ENV_MEASUREMENT_YEAR = "POPCARE_MEASUREMENT_YEAR"
# The publication gate's row-count check (docs/orchestration.md): a gated table may hold at most
# this fraction fewer rows than in the last published run before the run stops.
ENV_MAX_ROW_DROP = "POPCARE_MAX_ROW_DROP"
DEFAULT_MAX_ROW_DROP = 0.5

_YEAR = re.compile(r"^\d{4}$")


class SettingsError(ValueError):
    """A setting has a value popcare cannot use; the message says which and how to fix it."""


def parse_as_of(value: str | None, input_dir: str | Path) -> date:
    """The as-of date: an ISO date, else the sample's fixed date when reading the sample, else today."""
    if value:
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise SettingsError(
                f"as-of date {value!r} is not an ISO date; use YYYY-MM-DD "
                f"(flag --as-of or environment variable {ENV_AS_OF})"
            ) from exc
    if Path(input_dir).resolve() == SAMPLE_DIR.resolve():
        return SAMPLE_AS_OF
    return date.today()


@dataclass(frozen=True)
class MeasurementPeriod:
    """The reporting window of the quality measures (inclusive dates)."""

    start: date
    end: date
    label: str


def measurement_period(value: str | None, as_of: date) -> MeasurementPeriod:
    """Resolve ``--measurement-year``.

    ``YYYY`` reports that calendar year; ``rolling`` the 12 months ending on the as-of date; empty
    (the default) the calendar year containing the as-of date, i.e. year to date, which is the window
    in which a coordinator can still close a gap.
    """
    text = (value or "").strip().lower()
    if text in ("", "current"):
        return MeasurementPeriod(date(as_of.year, 1, 1), date(as_of.year, 12, 31), str(as_of.year))
    if text == "rolling":
        try:
            start = as_of.replace(year=as_of.year - 1)
        except ValueError:  # 29 February
            start = as_of.replace(year=as_of.year - 1, day=28)
        start = date.fromordinal(start.toordinal() + 1)
        return MeasurementPeriod(start, as_of, f"rolling-{as_of.isoformat()}")
    if _YEAR.match(text):
        year = int(text)
        return MeasurementPeriod(date(year, 1, 1), date(year, 12, 31), text)
    raise SettingsError(
        f"measurement year {value!r} is not understood; use a year such as 2025, or 'rolling' "
        f"(flag --measurement-year or environment variable {ENV_MEASUREMENT_YEAR})"
    )


class PopcareSettings(ConfigurableResource):
    """Where a run reads, writes and which date it reports as of. Overridable per run."""

    input_dir: str = Field(description="Folder holding the input-contract tables (CSV or Parquet).")
    out_dir: str = Field(description="Folder for outreach lists, reports and data-quality output.")
    as_of: str = Field(
        default="",
        description="As-of date YYYY-MM-DD; empty means today (the sample's own date for the sample).",
    )
    measurement_year: str = Field(
        default="",
        description="Measurement period: YYYY, 'rolling', or empty for the year containing as-of.",
    )
    max_row_drop: str = Field(
        default="",
        description=(
            "Largest fraction (0-1) by which a gated table's row count may fall since the last "
            f"published run; empty means {ENV_MAX_ROW_DROP}, else {DEFAULT_MAX_ROW_DROP}."
        ),
    )

    @property
    def input_path(self) -> Path:
        return Path(self.input_dir).expanduser()

    @property
    def out_path(self) -> Path:
        return Path(self.out_dir).expanduser()

    def as_of_date(self) -> date:
        return parse_as_of(self.as_of, self.input_path)

    def period(self) -> MeasurementPeriod:
        return measurement_period(self.measurement_year, self.as_of_date())

    def max_row_drop_fraction(self) -> float:
        return parse_max_row_drop(self.max_row_drop or os.environ.get(ENV_MAX_ROW_DROP))


def parse_max_row_drop(value: str | None) -> float:
    """``POPCARE_MAX_ROW_DROP``: a fraction from 0 to 1; empty means the default (0.5)."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_MAX_ROW_DROP
    try:
        fraction = float(text)
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise SettingsError(
            f"maximum row drop {value!r} is not a fraction from 0 to 1, e.g. 0.5 for 50% "
            f"(environment variable {ENV_MAX_ROW_DROP})"
        )
    return fraction


def _env(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or "").strip()


def settings_from_env(environ: Mapping[str, str] | None = None) -> PopcareSettings:
    """Settings from the environment, falling back to the bundled sample."""
    env = os.environ if environ is None else environ
    return PopcareSettings(
        input_dir=_env(env, ENV_INPUT) or str(SAMPLE_DIR),
        out_dir=_env(env, ENV_OUT) or str(DEFAULT_OUT),
        as_of=_env(env, ENV_AS_OF),
        measurement_year=_env(env, ENV_MEASUREMENT_YEAR),
        max_row_drop=_env(env, ENV_MAX_ROW_DROP),
    )


def warehouse_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return _env(env, ENV_WAREHOUSE) or str(DEFAULT_WAREHOUSE)
