"""Quality-measure engine: YAML definitions compiled to DuckDB SQL from building-block templates.

A measure is one file, ``measures/definitions/<measure_id>.yml``, naming its unit (a person, or an
index discharge), population, denominator, exclusions and numerator as criteria. A criterion is a
building block (``sql/marts/measures/blocks/<block>.sql``: age, continuous enrolment, value-set
hit, most recent lab or blood pressure, proportion of days covered...) with parameters, a
combination of criteria (``any_of`` / ``all_of``), or a shared criterion (``use: <name>`` from
``measures/definitions/shared/<name>.yml``). This module only loads the YAML and the value sets,
checks them, renders the templates and runs them; every clinical rule lives in the SQL templates
and the definitions, each citing its public source. docs/measures/README.md documents the format.

Rendering follows ``pipelines.sql``: run values (period start and end, as-of date) are bound as
DuckDB parameters; what is formatted into the SQL comes from the definitions, never from data, and
is checked first (value-set names and enumerations against fixed patterns, numbers parsed, text
quoted). Value sets are ``measures/value_sets/*.csv`` (columns ``value_set, code_system, code,
description, source, version``); a folder named by ``POPCARE_VALUE_SETS`` holds user CSVs in the same
format whose value sets replace the shipped ones of the same name (licensed VSAC / NCQA exports).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

import measures as measures_pkg
from pipelines.sql import SQL_DIR, read_sql, render, run_sql

MEASURES_DIR = Path(measures_pkg.__file__).resolve().parent
DEFINITIONS_DIR = MEASURES_DIR / "definitions"
SHARED_DIR = DEFINITIONS_DIR / "shared"
VALUE_SETS_DIR = MEASURES_DIR / "value_sets"
BLOCKS_DIR = SQL_DIR / "marts" / "measures" / "blocks"

ENV_VALUE_SETS = "POPCARE_VALUE_SETS"
VALUE_SET_COLUMNS = ("value_set", "code_system", "code", "description", "source", "version")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_.\- ]+$")


class MeasureDefinitionError(ValueError):
    """A measure definition cannot be compiled; the message names the file and the key."""


class ValueSetError(ValueError):
    """A value-set file is malformed; the message names the file and the row."""


# --------------------------------------------------------------------------------------------
# Value sets


# Code-system spellings of VSAC / NCQA exports and popcare's own, mapped to core's names.
_CODE_SYSTEM_ALIASES = {
    "icd10cm": "icd-10-cm",
    "icd-10-cm": "icd-10-cm",
    "icd10pcs": "icd-10-pcs",
    "icd-10-pcs": "icd-10-pcs",
    "icd9cm": "icd-9-cm",
    "icd-9-cm": "icd-9-cm",
    "snomedct": "snomed-ct",
    "snomed-ct": "snomed-ct",
    "snomed ct us edition": "snomed-ct",
    "sct": "snomed-ct",
    "cpt": "cpt",
    "cpt-cat-ii": "cpt",
    "hcpcs": "hcpcs",
    "hcpcs level ii": "hcpcs",
    "hcpcs level i": "cpt",
    "hcpcs-level-ii": "hcpcs",
    "loinc": "loinc",
    "ndc": "ndc",
    "rxnorm": "rxnorm",
    "encounter-type": "encounter-type",
    "discharge-disposition": "discharge-disposition",
    "npi": "npi",
}
_NDC_SEGMENTS = {(4, 4, 2): (1, 0, 0), (5, 3, 2): (0, 1, 0), (5, 4, 1): (0, 0, 1)}


def normalise_code(code_system: str, code: str) -> tuple[str, str]:
    """(code system, code) spelled the way core stores them; raises ValueError if unusable."""
    system = _CODE_SYSTEM_ALIASES.get(code_system.strip().lower())
    if system is None:
        raise ValueError(
            f"unknown code system {code_system!r}; use one of {sorted(set(_CODE_SYSTEM_ALIASES))}"
        )
    text = code.strip()
    if not text:
        raise ValueError("empty code")
    if system in ("icd-10-cm", "icd-10-pcs", "icd-9-cm"):
        text = text.replace(".", "").upper()
    elif system in ("cpt", "hcpcs"):
        text = text.upper()
        # core.procedure calls a code CPT when it starts with a digit, else HCPCS Level II.
        system = "cpt" if text[0].isdigit() else "hcpcs"
    elif system == "ndc":
        parts = text.split("-")
        if len(parts) == 3:
            pads = _NDC_SEGMENTS.get(tuple(len(p) for p in parts))
            if pads is None and tuple(len(p) for p in parts) != (5, 4, 2):
                raise ValueError(f"NDC {code!r} is not in 4-4-2, 5-3-2, 5-4-1 or 5-4-2 form")
            if pads is not None:
                parts = ["0" * pad + part for pad, part in zip(pads, parts, strict=True)]
            text = "".join(parts)
        if not (text.isdigit() and len(text) == 11):
            raise ValueError(f"NDC {code!r} is not 11 digits (5-4-2 claim form)")
    elif system == "encounter-type":
        text = text.lower()
    return system, text


def read_value_set_file(path: Path, origin: str) -> list[dict[str, str]]:
    """The rows of one value-set CSV, codes normalised; raises ValueSetError with file and row."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = tuple(name.strip().lower() for name in (reader.fieldnames or ()))
        if header != VALUE_SET_COLUMNS:
            raise ValueSetError(
                f"{path}: columns must be {', '.join(VALUE_SET_COLUMNS)} (in that order), "
                f"found {', '.join(header) or 'none'}"
            )
        rows = []
        for number, raw in enumerate(reader, start=2):
            row = {key.strip().lower(): (value or "").strip() for key, value in raw.items()}
            if not _NAME.match(row["value_set"]):
                raise ValueSetError(
                    f"{path}:{number}: value_set {row['value_set']!r} must be lower case "
                    "letters, digits and underscores"
                )
            try:
                system, code = normalise_code(row["code_system"], row["code"])
            except ValueError as exc:
                raise ValueSetError(f"{path}:{number}: {exc}") from exc
            rows.append(
                {
                    **row,
                    "code_system": system,
                    "code": code,
                    "origin": origin,
                    "file_name": path.name,
                    "row_number": number,
                }
            )
    return rows


def value_set_override_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The user's value-set folder from ``POPCARE_VALUE_SETS`` (None when unset)."""
    env = os.environ if environ is None else environ
    text = (env.get(ENV_VALUE_SETS) or "").strip()
    if not text:
        return None
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise ValueSetError(
            f"{ENV_VALUE_SETS}={text!r} is not a folder; point it at the folder holding your "
            "value-set CSVs (docs/measures/README.md)"
        )
    return folder


def load_value_sets(
    shipped_dir: Path = VALUE_SETS_DIR, override_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Shipped value sets, with every value set named in the override folder replaced whole."""
    shipped = [
        row
        for path in sorted(shipped_dir.glob("*.csv"))
        for row in read_value_set_file(path, "shipped")
    ]
    if override_dir is None:
        return shipped
    override = [
        row
        for path in sorted(Path(override_dir).glob("*.csv"))
        for row in read_value_set_file(path, "override")
    ]
    replaced = {row["value_set"] for row in override}
    return [row for row in shipped if row["value_set"] not in replaced] + override


def build_value_sets(
    con: duckdb.DuckDBPyConnection, override_dir: Path | None = None
) -> dict[str, int]:
    """Write marts.measure_value_set; returns the number of codes per value set."""
    rows = load_value_sets(override_dir=override_dir)
    columns = (*VALUE_SET_COLUMNS, "origin", "file_name", "row_number")
    con.execute("create schema if not exists marts")
    # Parallel lists unnested side by side: one statement, no per-row round trips.
    selects = ", ".join(f"unnest(${name}) as {name}" for name in columns)
    con.execute(
        f"create or replace temp table value_set_rows as select {selects}",
        {name: [row[name] for row in rows] for name in columns},
    )
    try:
        run_sql(con, "marts/measures/value_set")
    finally:
        con.execute("drop table if exists value_set_rows")
    counts = con.execute(
        "select value_set, count(*) from marts.measure_value_set group by value_set"
    ).fetchall()
    return {name: int(n) for name, n in counts}


# --------------------------------------------------------------------------------------------
# Definitions


@dataclass(frozen=True)
class Measure:
    """A parsed measure definition (``measures/definitions/<id>.yml``)."""

    id: str
    title: str
    kind: str  # proportion | utilisation
    inverse: bool
    unit: dict[str, Any]
    population: list[dict[str, Any]]
    denominator: list[dict[str, Any]]
    exclusions: list[dict[str, Any]]
    numerator: dict[str, Any]
    weight: dict[str, Any] | None
    gap: dict[str, Any]
    age_bands: list[tuple[int, int]]
    optional_value_sets: frozenset[str]
    source: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def rate_unit(self) -> str:
        return "per_1000_member_years" if self.kind == "utilisation" else "proportion"

    @property
    def rate_scale(self) -> float:
        return 1000.0 if self.kind == "utilisation" else 1.0


DEFAULT_AGE_BANDS = [(0, 17), (18, 44), (45, 64), (65, 74), (75, 200)]
_MEASURE_KEYS = {
    "id",
    "title",
    "description",
    "source",
    "kind",
    "inverse",
    "unit",
    "population",
    "denominator",
    "exclusions",
    "numerator",
    "weight",
    "gap",
    "age_bands",
    "optional_value_sets",
}


def _fail(where: str, message: str) -> MeasureDefinitionError:
    return MeasureDefinitionError(f"{where}: {message}")


def _listify(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(where, "must be a list")
    return value


def parse_measure(data: Mapping[str, Any], path: Path | None = None) -> Measure:
    """Check a definition's top-level shape (criteria are checked when compiled)."""
    where = str(path or data.get("id", "measure"))
    unknown = set(data) - _MEASURE_KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    measure_id = str(data.get("id", ""))
    if not _NAME.match(measure_id):
        raise _fail(where, "id must be lower case letters, digits and underscores")
    if path is not None and path.stem != measure_id:
        raise _fail(where, f"file name must be {measure_id}.yml")
    kind = data.get("kind", "proportion")
    if kind not in ("proportion", "utilisation"):
        raise _fail(where, "kind must be proportion or utilisation")
    if "numerator" not in data:
        raise _fail(where, "a numerator is required")
    if kind == "utilisation" and "weight" not in data:
        raise _fail(where, "a utilisation measure needs a weight (e.g. member_years)")
    unit = data.get("unit", "person")
    unit = {"type": unit} if isinstance(unit, str) else dict(unit)
    if unit.get("type") not in UNITS:
        raise _fail(where, f"unit type must be one of {sorted(UNITS)}")
    bands = []
    for band in _listify(data.get("age_bands"), f"{where}: age_bands"):
        if not (
            isinstance(band, list) and len(band) == 2 and all(isinstance(b, int) for b in band)
        ):
            raise _fail(where, "age_bands are [min, max] pairs of whole years")
        bands.append((band[0], band[1]))
    gap = data.get("gap") or {"open_until": "period_end"}
    if not isinstance(gap, dict) or set(gap) - {"open_until", "requires"}:
        raise _fail(where, "gap takes open_until (a date, 'never' or 'always') and requires")
    return Measure(
        id=measure_id,
        title=str(data.get("title", measure_id)),
        kind=kind,
        inverse=bool(data.get("inverse", False)),
        unit=unit,
        population=_listify(data.get("population"), f"{where}: population"),
        denominator=_listify(data.get("denominator"), f"{where}: denominator"),
        exclusions=_listify(data.get("exclusions"), f"{where}: exclusions"),
        numerator=data["numerator"],
        weight=data.get("weight"),
        gap=gap,
        age_bands=bands or DEFAULT_AGE_BANDS,
        optional_value_sets=frozenset(_listify(data.get("optional_value_sets"), where)),
        source=dict(data.get("source") or {}),
        path=path,
    )


def load_measures(definitions_dir: Path = DEFINITIONS_DIR) -> list[Measure]:
    """Every ``<id>.yml`` in the definitions folder (shared criteria live in ``shared/``)."""
    found = []
    for path in sorted(Path(definitions_dir).glob("*.yml")):
        with path.open(encoding="utf-8") as handle:
            found.append(parse_measure(yaml.safe_load(handle) or {}, path))
    return found


def _shared_criterion(name: str, shared_dir: Path = SHARED_DIR) -> dict[str, Any]:
    if not _NAME.match(name):
        raise MeasureDefinitionError(f"use: {name!r} is not a shared criterion name")
    path = shared_dir / f"{name}.yml"
    if not path.is_file():
        raise MeasureDefinitionError(f"use: {name!r}: no file {path}")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise MeasureDefinitionError(f"{path}: a shared criterion is a mapping")
    return data


def _resolve(crit: Any, where: str) -> dict[str, Any]:
    """A criterion mapping with ``use:`` replaced by the shared criterion (local keys win)."""
    if not isinstance(crit, dict):
        raise _fail(where, "a criterion is a mapping with block:, any_of:, all_of: or use:")
    crit = dict(crit)
    if "use" not in crit:
        return crit
    shared = dict(_shared_criterion(str(crit.pop("use"))))
    if "use" in shared:
        raise _fail(where, "a shared criterion cannot itself use another")
    shared.update(crit)
    return shared


# --------------------------------------------------------------------------------------------
# Rendering values into SQL text


_ANCHORS = {
    "period_start": "cast($period_start as date)",
    "period_end": "cast($period_end as date)",
    "as_of": "cast($as_of as date)",
    "anchor": "u.anchor_date",
    "ever": "date '1900-01-01'",
}
_DATE_EXPR = re.compile(
    r"^\s*(period_start|period_end|as_of|anchor|ever)"
    r"((?:\s*[+-]\s*\d+\s*(?:day|days|month|months|year|years))*)\s*$"
)
_OFFSET = re.compile(r"([+-])\s*(\d+)\s*(day|month|year)s?")


def date_sql(text: Any, where: str, allow_anchor: bool = True) -> str:
    """``period_end - 27 months + 1 day`` -> a SQL date expression (standard interval syntax)."""
    match = _DATE_EXPR.match(str(text))
    if not match:
        raise _fail(
            where,
            f"date {text!r} must be period_start, period_end, as_of, anchor or ever, optionally "
            "followed by '+/- N days|months|years' terms",
        )
    if match.group(1) == "anchor" and not allow_anchor:
        raise _fail(where, "'anchor' (the unit's index date) is not available here")
    offsets = _OFFSET.findall(match.group(2))
    expr = _ANCHORS[match.group(1)]
    if not offsets:
        return expr
    terms = "".join(f" {sign} interval '{int(n)}' {unit}" for sign, n, unit in offsets)
    return f"cast({expr}{terms} as date)"


def quote_text(text: Any) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


_TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")


def text_sql(template: str, where: str, allow_anchor: bool = True) -> str:
    """'no mammogram since {period_end - 27 months + 1 day}' -> a SQL string expression."""
    pieces: list[str] = []
    position = 0
    for match in _TEMPLATE_PART.finditer(template):
        if match.start() > position:
            pieces.append(quote_text(template[position : match.start()]))
        pieces.append(f"cast({date_sql(match.group(1), where, allow_anchor)} as varchar)")
        position = match.end()
    if position < len(template) or not pieces:
        pieces.append(quote_text(template[position:]))
    return " || ".join(pieces)


def _list_sql(values: Sequence[Any]) -> str:
    # An empty list renders as '' so "x in (...)" stays valid SQL and matches nothing.
    return ", ".join(quote_text(v) for v in values) if values else "''"


# --------------------------------------------------------------------------------------------
# Building blocks and their parameters

_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    kind: str  # int | number | bool | strings | value_sets | window | date | enum | text | coded
    default: Any = _REQUIRED
    choices: Mapping[str, str] | None = None


_PERIOD = {"from": "period_start", "to": "period_end"}


def _window(default: Mapping[str, str] = _PERIOD) -> Param:
    return Param("window", dict(default))


BLOCKS: dict[str, dict[str, Param]] = {
    "age": {"min": Param("int", 0), "max": Param("int", 200), "at": Param("date", "period_end")},
    "sex": {"values": Param("strings")},
    "death": {"window": _window({"from": "ever", "to": "period_end"})},
    "long_term_institutional": {"window": _window()},
    "continuous_enrollment": {
        "window": _window(),
        "max_gaps": Param("int", 1),
        "max_gap_days": Param("int", 45),
        "enrolled_at_end": Param("bool", True),
    },
    "value_set_hit": {
        "value_sets": Param("value_sets"),
        "window": _window(),
        "min_distinct_dates": Param("int", 1),
        "principal_only": Param("bool", False),
        "include_active_problems": Param("bool", False),
        "modifiers": Param("strings", []),
        "pick": Param("enum", "latest", {"latest": "desc", "earliest": "asc"}),
    },
    "encounter_hit": {
        "encounter_types": Param("strings"),
        "window": _window(),
        "diagnosis_value_sets": Param("value_sets", []),
        "provider_value_sets": Param("value_sets", []),
        "principal_only": Param("bool", False),
        "pick": Param("enum", "earliest", {"latest": "desc", "earliest": "asc"}),
    },
    "encounter_count": {
        "encounter_types": Param("strings"),
        "window": _window(),
        "exclude_principal_value_sets": Param("value_sets", []),
    },
    "member_years": {"window": _window()},
    "most_recent_lab": {
        "value_sets": Param("value_sets"),
        "window": _window(),
        "op": Param("enum", ">", {">": ">", "<": "<"}),
        "threshold": Param("number"),
        "coded_results": Param("coded", []),
        "or_missing": Param("bool", False),
        "unit_label": Param("text", ""),
    },
    "most_recent_bp": {
        "window": _window(),
        "systolic_below": Param("number", 140),
        "diastolic_below": Param("number", 90),
        "exclude_encounter_types": Param("strings", ["acute_inpatient", "emergency_department"]),
    },
    "paired_tests": {
        "first_value_sets": Param("value_sets"),
        "second_value_sets": Param("value_sets"),
        "window": _window(),
        "max_days_apart": Param("int", 4),
    },
    "pdc": {
        "value_sets": Param("value_sets"),
        "window": _window(),
        "threshold": Param("number", 0.8),
        "mode": Param("enum", "pdc", {"pdc": "pdc", "reachable": "reachable"}),
    },
    "admission_after_discharge": {
        "window": _window({"from": "anchor", "to": "anchor + 30 days"}),
        "acute": Param("bool", True),
        "nonacute_encounter_types": Param("strings", ["snf"]),
        "nonacute_dispositions": Param("strings", []),
    },
}
UNITS: dict[str, dict[str, Param]] = {
    "person": {},
    "discharge": {
        "window": _window(),
        "principal_value_sets": Param("value_sets", []),
        "exclude_dispositions": Param("strings", []),
    },
}
_COMMON_KEYS = {"block", "label", "missing", "reason", "use", "optional_value_sets"}


@cache
def _template(name: str) -> str:
    path = BLOCKS_DIR / f"{name}.sql"
    lines = path.read_text(encoding="utf-8").splitlines()
    # The header comment documents the block; the rendered measure keeps only the SQL.
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines).strip()


@dataclass
class _Compiler:
    measure: Measure
    known_value_sets: frozenset[str]
    ctes: list[tuple[str, str]] = field(default_factory=list)
    optional: set[str] = field(default_factory=set)

    @property
    def anchor_ok(self) -> bool:
        # 'anchor' is the unit's index date: only episode units (discharges) have one.
        return self.measure.unit["type"] != "person"

    def where(self, section: str) -> str:
        location = self.measure.path or self.measure.id
        return f"{location}: {section}"

    def check_value_sets(self, names: Any, where: str) -> list[str]:
        values = _listify(names, where)
        for name in values:
            if not isinstance(name, str) or not _NAME.match(name):
                raise _fail(where, f"value set name {name!r} is not valid")
            if not (
                name in self.known_value_sets
                or name in self.measure.optional_value_sets
                or name in self.optional
            ):
                raise _fail(
                    where,
                    f"value set {name!r} is not in measures/value_sets or the override folder "
                    "(list it under optional_value_sets if it may be empty)",
                )
        return values

    def render_params(
        self, spec: Mapping[str, Param], given: Mapping[str, Any], where: str, allow_anchor: bool
    ) -> dict[str, str]:
        unknown = set(given) - set(spec) - _COMMON_KEYS
        if unknown:
            raise _fail(where, f"unknown parameters {sorted(unknown)}; known: {sorted(spec)}")
        out: dict[str, str] = {}
        for name, param in spec.items():
            value = given.get(name, param.default)
            if value is _REQUIRED:
                raise _fail(where, f"parameter {name!r} is required")
            at = f"{where}.{name}"
            if param.kind == "int":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise _fail(at, "must be a whole number")
                out[name] = str(value)
            elif param.kind == "number":
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise _fail(at, "must be a number")
                out[name] = repr(float(value))
            elif param.kind == "bool":
                if not isinstance(value, bool):
                    raise _fail(at, "must be true or false")
                out[name] = "true" if value else "false"
            elif param.kind in ("strings", "value_sets"):
                values = (
                    self.check_value_sets(value, at)
                    if param.kind == "value_sets"
                    else _listify(value, at)
                )
                for item in values:
                    if not _SAFE_TOKEN.match(str(item)):
                        raise _fail(at, f"{item!r} may hold letters, digits, '_', '-', '.' only")
                out[name] = _list_sql([str(v) for v in values])
                out[f"{name}_empty"] = "true" if not values else "false"
            elif param.kind == "window":
                window = dict(param.default)
                if value is not param.default:
                    if not isinstance(value, dict) or set(value) - {"from", "to"}:
                        raise _fail(at, "a window is {from: <date>, to: <date>}")
                    window.update(value)
                out["window_from"] = date_sql(window["from"], at, allow_anchor)
                out["window_to"] = date_sql(window["to"], at, allow_anchor)
            elif param.kind == "date":
                out[name] = date_sql(value, at, allow_anchor)
            elif param.kind == "enum":
                choices = param.choices or {}
                if value not in choices:
                    raise _fail(at, f"must be one of {sorted(choices)}")
                out[name if name != "pick" else "pick_order"] = choices[value]
            elif param.kind == "text":
                out[name] = quote_text(value)
            elif param.kind == "coded":
                out[name] = self.coded_results(value, at)
        return out

    def coded_results(self, value: Any, where: str) -> str:
        rows = []
        for item in _listify(value, where):
            if not isinstance(item, dict) or set(item) != {"value_set", "value", "comparator"}:
                raise _fail(where, "each coded result is {value_set, value, comparator}")
            (name,) = self.check_value_sets([item["value_set"]], where)
            if item["comparator"] not in ("<", "<=", "=", ">=", ">"):
                raise _fail(where, "comparator must be one of < <= = >= >")
            if not isinstance(item["value"], int | float):
                raise _fail(where, "value must be a number")
            rows.append(
                f"({quote_text(name)}, cast({float(item['value'])!r} as double), "
                f"{quote_text(item['comparator'])})"
            )
        if not rows:
            return "(cast(null as varchar), cast(null as double), cast(null as varchar))"
        return ", ".join(rows)

    def add_cte(self, name: str, sql: str) -> str:
        self.ctes.append((name, sql))
        return name

    def criterion(self, crit: Any, unit_cte: str, name: str, where: str) -> str:
        """Compile a criterion into CTEs; returns the name of the CTE holding its rows."""
        crit = _resolve(crit, where)
        # A criterion may declare value sets that are allowed to be empty (classes popcare ships
        # no codes for, which a user's override folder may fill); the declaration covers its
        # sub-criteria.
        added = set(_listify(crit.get("optional_value_sets"), where)) - self.optional
        self.optional |= added
        try:
            composite = [key for key in ("any_of", "all_of") if key in crit]
            if composite:
                return self.composite(crit, composite[0], unit_cte, name, where)
            return self.block(crit, unit_cte, name, where)
        finally:
            self.optional -= added

    def block(self, crit: dict[str, Any], unit_cte: str, name: str, where: str) -> str:
        block = crit.get("block")
        if block not in BLOCKS:
            raise _fail(where, f"block {block!r} is not one of {sorted(BLOCKS)}")
        params = self.render_params(BLOCKS[block], crit, where, allow_anchor=self.anchor_ok)
        params["unit"] = unit_cte
        params["label"] = quote_text(crit.get("label", block.replace("_", " ")))
        params["missing"] = self.missing_sql(crit, where)
        sql = render(_template(block), params)
        return self.add_cte(name, sql)

    def missing_sql(self, crit: Any, where: str) -> str:
        crit = _resolve(crit, where)
        label = crit.get("label") or crit.get("block", "criterion").replace("_", " ")
        return text_sql(str(crit.get("missing", f"no {label}")), where, self.anchor_ok)

    def composite(
        self, crit: Mapping[str, Any], key: str, unit_cte: str, name: str, where: str
    ) -> str:
        unknown = set(crit) - {key} - _COMMON_KEYS
        if unknown:
            raise _fail(where, f"unknown keys {sorted(unknown)} next to {key}")
        branches = _listify(crit[key], f"{where}.{key}")
        if not branches:
            raise _fail(where, f"{key} needs at least one criterion")
        branch_ctes = [
            self.criterion(branch, unit_cte, f"{name}_{i}", f"{where}.{key}[{i}]")
            for i, branch in enumerate(branches, start=1)
        ]
        rows = "\n    union all\n".join(
            f"    select unit_id, {i} as branch, met, event_date, evidence, quantity from {cte}"
            for i, cte in enumerate(branch_ctes, start=1)
        )
        missing = " ".join(
            f"when {i} then {self.missing_sql(branch, where)}"
            for i, branch in enumerate(branches, start=1)
        )
        params = {
            "branch_rows": rows,
            "unit": unit_cte,
            "branch_missing": f"case b.branch {missing} end",
            "branch_numbers": ", ".join(f"({i})" for i in range(1, len(branches) + 1)),
            "met_rule": (
                "max(case when met then 1 else 0 end) = 1"
                if key == "any_of"
                else "min(case when met then 1 else 0 end) = 1"
            ),
            "is_any": "true" if key == "any_of" else "false",
        }
        return self.add_cte(name, render(_template("combine"), params))

    def all_of(self, criteria: list[Any], unit_cte: str, name: str, section: str) -> str:
        """The list of a section (population, denominator) as one all_of CTE, or a pass-all."""
        if not criteria:
            return self.add_cte(
                name,
                "select unit_id, true as met, cast(null as date) as event_date, "
                f"cast(null as varchar) as evidence, cast(null as double) as quantity "
                f"from {unit_cte}",
            )
        if len(criteria) == 1:
            return self.criterion(criteria[0], unit_cte, name, self.where(section))
        return self.criterion({"all_of": criteria}, unit_cte, name, self.where(section))

    def exclusions(self, criteria: list[Any]) -> str:
        if not criteria:
            return self.add_cte(
                "exclusion",
                "select unit_id, true as met, cast(null as date) as event_date, "
                "cast(null as varchar) as evidence, cast(null as double) as quantity, "
                "cast(null as varchar) as reason from unit where false",
            )
        rows = []
        for i, crit in enumerate(criteria, start=1):
            where = self.where(f"exclusions[{i}]")
            resolved = _resolve(crit, where)
            reason = resolved.get("reason")
            if not isinstance(reason, str) or not _NAME.match(reason):
                raise _fail(where, "every exclusion needs a reason (lower_case_words)")
            cte = self.criterion(resolved, "unit", f"exclusion_{i}", where)
            rows.append(
                f"    select unit_id, {i} as branch, met, event_date, evidence, quantity, "
                f"{quote_text(reason)} as reason from {cte}"
            )
        sql = render(_template("first_met"), {"branch_rows": "\n    union all\n".join(rows)})
        return self.add_cte("exclusion", sql)


def _cte_text(ctes: Iterable[tuple[str, str]]) -> str:
    return "".join(f"{name} as (\n{sql}\n),\n\n" for name, sql in ctes)


def compile_measure(measure: Measure, known_value_sets: Iterable[str]) -> str:
    """The SQL select producing the measure's rows of marts.measure_patient."""
    compiler = _Compiler(measure, frozenset(known_value_sets))
    unit_spec = UNITS[measure.unit["type"]]
    unit_where = compiler.where("unit")
    unit_params = compiler.render_params(
        unit_spec,
        {k: v for k, v in measure.unit.items() if k != "type"},
        unit_where,
        allow_anchor=False,
    )
    unit_sql = render(_template(f"unit_{measure.unit['type']}"), unit_params)

    population_filter = "true"
    if measure.population:
        compiler.all_of(measure.population, "unit_candidate", "population", "population")
        population_filter = (
            "exists (select 1 from population as p where p.unit_id = c.unit_id and p.met)"
        )
    population_ctes = _cte_text(compiler.ctes)
    compiler.ctes = []

    compiler.all_of(measure.denominator, "unit", "denominator", "denominator")
    compiler.exclusions(measure.exclusions)
    compiler.criterion(measure.numerator, "unit", "numerator", compiler.where("numerator"))
    weight_expr, weight_join = "1.0", ""
    if measure.weight is not None:
        compiler.criterion(measure.weight, "unit", "weight", compiler.where("weight"))
        weight_expr = "coalesce(w.quantity, 0.0)"
        weight_join = "left join weight as w on u.unit_id = w.unit_id"
    gap_condition_expr, gap_condition_join = "true", ""
    if measure.gap.get("requires") is not None:
        compiler.criterion(
            measure.gap["requires"], "unit", "gap_condition", compiler.where("gap.requires")
        )
        gap_condition_expr = "coalesce(g.met, false)"
        gap_condition_join = "left join gap_condition as g on u.unit_id = g.unit_id"

    open_until = str(measure.gap.get("open_until", "period_end"))
    if open_until == "never":
        gap_open_until = "false"
    elif open_until == "always":
        gap_open_until = "true"
    else:
        until = date_sql(open_until, compiler.where("gap.open_until"), compiler.anchor_ok)
        gap_open_until = f"cast($as_of as date) <= {until}"
    numerator = _resolve(measure.numerator, compiler.where("numerator"))
    if measure.kind == "utilisation":
        numerator_count = (
            "case when s.in_numerator then coalesce(s.numerator_quantity, 0) else 0 end"
        )
    else:
        numerator_count = "case when s.in_numerator then 1.0 else 0.0 end"
    params = {
        "measure_id": quote_text(measure.id),
        "measure_id_text": measure.id,
        "unit_sql": unit_sql,
        "population_ctes": population_ctes,
        "population_filter": population_filter,
        "criteria_ctes": _cte_text(compiler.ctes),
        "weight_expr": weight_expr,
        "weight_join": weight_join,
        "gap_condition_expr": gap_condition_expr,
        "gap_condition_join": gap_condition_join,
        "denominator_missing": " || '; ' || ".join(
            compiler.missing_sql(c, compiler.where("denominator")) for c in measure.denominator
        )
        or "'in the denominator'",
        "numerator_missing": compiler.missing_sql(numerator, compiler.where("numerator")),
        "gap_numerator_rule": "s.in_numerator" if measure.inverse else "not s.in_numerator",
        "gap_open_until": gap_open_until.replace("u.anchor_date", "s.anchor_date"),
        "numerator_count": numerator_count,
    }
    return render(read_sql("marts/measures/measure"), params)


# --------------------------------------------------------------------------------------------
# Running


def measure_params(period_start: date, period_end: date, as_of: date) -> dict[str, date]:
    return {"period_start": period_start, "period_end": period_end, "as_of": as_of}


def build_measure_patient(
    con: duckdb.DuckDBPyConnection,
    period_start: date,
    period_end: date,
    as_of: date,
    measure_list: Sequence[Measure] | None = None,
    override_dir: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Rebuild marts.measure_value_set, measure_code_event and measure_patient for the period.

    Returns each measure's overall counts and rate (counts and rates only: no identifiers).
    """
    measure_list = list(measure_list) if measure_list is not None else load_measures()
    counts = build_value_sets(con, override_dir)
    run_sql(con, "marts/measures/code_event")
    run_sql(con, "marts/measures/measure_patient_table")
    params = measure_params(period_start, period_end, as_of)
    for measure in measure_list:
        sql = compile_measure(measure, counts)
        wanted = {k: params[k] for k in con.extract_statements(sql)[0].named_parameters}
        con.execute(f"insert into marts.measure_patient by name {sql}", wanted)
    return measure_summary(con, measure_list)


def measure_summary(
    con: duckdb.DuckDBPyConnection, measure_list: Sequence[Measure]
) -> dict[str, dict[str, float]]:
    """Overall denominator, exclusions, numerator, rate and open gaps per measure."""
    rows = con.execute(
        """
        select
            measure_id,
            sum(case when in_denominator then denominator_weight else 0 end),
            sum(case when excluded then denominator_weight else 0 end),
            sum(case when in_numerator then numerator_count else 0 end),
            count(*) filter (where gap_open)
        from marts.measure_patient
        group by measure_id
        """
    ).fetchall()
    found = {row[0]: row[1:] for row in rows}
    summary: dict[str, dict[str, float]] = {}
    for measure in measure_list:
        denominator, exclusions, numerator, gaps = found.get(measure.id, (0, 0, 0, 0))
        eligible = float(denominator or 0) - float(exclusions or 0)
        rate = float(numerator) / eligible * measure.rate_scale if eligible > 0 else None
        summary[measure.id] = {
            "denominator": round(float(denominator or 0), 2),
            "exclusions": round(float(exclusions or 0), 2),
            "numerator": round(float(numerator or 0), 2),
            "rate": round(rate, 4) if rate is not None else None,
            "gaps_open": int(gaps or 0),
        }
    return summary


def build_measure_rates(
    con: duckdb.DuckDBPyConnection, measure_list: Sequence[Measure] | None = None
) -> int:
    """Rebuild marts.measure_rates from marts.measure_patient; returns its row count."""
    measure_list = list(measure_list) if measure_list is not None else load_measures()
    meta = ", ".join(
        f"({quote_text(m.id)}, {quote_text(m.rate_unit)}, cast({m.rate_scale!r} as double), "
        f"{'false' if m.inverse else 'true'})"
        for m in measure_list
    )
    bands = ", ".join(
        f"({quote_text(m.id)}, {quote_text(_band_label(lo, hi))}, {lo}, {hi})"
        for m in measure_list
        for lo, hi in m.age_bands
    )
    run_sql(
        con,
        "marts/measure_rates",
        identifiers={"measure_meta": meta, "age_bands": bands},
    )
    return int(con.execute("select count(*) from marts.measure_rates").fetchone()[0])


def rates_summary(
    con: duckdb.DuckDBPyConnection, measure_list: Sequence[Measure]
) -> dict[str, dict[str, float]]:
    """The overall row of marts.measure_rates per measure, in measure_summary's shape."""
    rows = con.execute(
        "select measure_id, denominator, exclusions, numerator, rate from marts.measure_rates "
        "where stratum = 'overall'"
    ).fetchall()
    found = {row[0]: row[1:] for row in rows}
    summary: dict[str, dict[str, float]] = {}
    for measure in measure_list:
        denominator, exclusions, numerator, rate = found.get(measure.id, (0, 0, 0, None))
        summary[measure.id] = {
            "denominator": float(denominator or 0),
            "exclusions": float(exclusions or 0),
            "numerator": float(numerator or 0),
            "rate": None if rate is None else float(rate),
        }
    return summary


def _band_label(low: int, high: int) -> str:
    return f"{low}+" if high >= 120 else f"{low}-{high}"
