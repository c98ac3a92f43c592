"""Outreach lists: whom a care coordinator calls this morning, why, and what to do.

The facts and the suppression rules live in ``sql/marts/outreach_candidates.sql`` and
``sql/marts/outreach_suppressed.sql``; this module holds the rest as pure functions (business-day
deadlines, ranking, capacity balancing, the plain-language reasons and actions, spreadsheet-safe
CSV writing) plus three thin steps the Dagster assets call: :func:`build_candidates`,
:func:`build_outreach_list` and :func:`write_outreach_files`. docs/outreach.md documents every
rule, the configuration files and the output format.

PHI: nothing here logs, and no exception message carries a patient value. Summary numbers are
counts only. Output files are created owner-only (0600) and replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

import measures
from pipelines.settings import REPO_ROOT
from pipelines.sql import run_sql

CONFIG_DIR = REPO_ROOT / "config"
DEFAULT_TEAMS_FILE = CONFIG_DIR / "teams.yml"
DEFAULT_RULES_FILE = CONFIG_DIR / "outreach.yml"
OUTREACH_ACTIONS_CSV = Path(measures.__file__).resolve().parent / "outreach_actions.csv"
ENV_TEAMS = "POPCARE_TEAMS"
ENV_RULES = "POPCARE_OUTREACH_RULES"

# Suppression reasons in precedence order (outreach_suppressed.sql's reason_order).
SUPPRESSION_REASONS = (
    "deceased",
    "hospice",
    "not_enrolled",
    "currently_inpatient",
    "opted_out",
    "recently_contacted",
    "in_care_management",
)
ROUTED = "routed_to_care_manager"

# The CSV a coordinator opens, in this order (the column list).
CSV_COLUMNS = (
    "rank",
    "priority_group",
    "person_id",
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "preferred_language",
    "preferred_contact",
    "payer",
    "attributed_practice",
    "care_manager",
    "risk_tier",
    "risk_score",
    "reasons",
    "open_gaps",
    "last_discharge_date",
    "last_discharge_facility",
    "due_by",
    "suggested_action",
)
# Always quoted, so a reader that honours quotes keeps them as text (leading zeros survive).
IDENTIFIER_COLUMNS = frozenset(
    {"person_id", "phone", "attributed_practice", "care_manager", "last_discharge_facility"}
)
# Written as plain numbers: never quoted, never neutralised.
NUMERIC_COLUMNS = frozenset({"rank", "priority_group", "risk_score"})

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection"):
# = + - @, tab and carriage return; the full-width forms too, which some locales convert.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")

TIER_ORDER = {"complex": 0, "high": 1, "rising": 2, "low": 3}

UPSTREAM_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "risk_scores": (
        ("person_id", "varchar"),
        ("scoring_date", "date"),
        ("model_version", "varchar"),
        ("score", "double"),
        ("percentile", "double"),
        ("tier", "varchar"),
        ("reason_1", "varchar"),
        ("reason_2", "varchar"),
        ("reason_3", "varchar"),
    ),
    "measure_patient": (
        ("measure_id", "varchar"),
        ("person_id", "varchar"),
        ("period_start", "date"),
        ("period_end", "date"),
        ("in_denominator", "boolean"),
        ("excluded", "boolean"),
        ("exclusion_reason", "varchar"),
        ("in_numerator", "boolean"),
        ("gap_open", "boolean"),
        ("last_event_date", "date"),
        ("evidence", "varchar"),
    ),
}

_TEAM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class OutreachConfigError(ValueError):
    """A configuration file cannot be used; the message names the file and the key."""


# --------------------------------------------------------------------------------------------
# Configuration: rules (cut-offs) and the team roster
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutreachRules:
    """Cut-offs of the list (config/outreach.yml). Defaults are the issue's and CMS TCM's."""

    transition_days: int = 14
    contact_business_days: int = 2
    visit_days_high_risk: int = 7
    visit_days_other: int = 14
    high_risk_tiers: tuple[str, ...] = ("complex", "high")
    recent_contact_days: int = 30
    hospice_lookback_days: int = 90
    still_a_patient_days: int = 30
    ed_lookback_days: int = 180
    max_gap_actions: int = 3
    holidays: tuple[date, ...] = ()
    source: str = field(default="built-in defaults", compare=False)
    sha256: str | None = field(default=None, compare=False)

    def manifest(self) -> dict[str, Any]:
        return {
            "transition_days": self.transition_days,
            "contact_business_days": self.contact_business_days,
            "visit_days_high_risk": self.visit_days_high_risk,
            "visit_days_other": self.visit_days_other,
            "high_risk_tiers": list(self.high_risk_tiers),
            "recent_contact_days": self.recent_contact_days,
            "hospice_lookback_days": self.hospice_lookback_days,
            "still_a_patient_days": self.still_a_patient_days,
            "ed_lookback_days": self.ed_lookback_days,
            "max_gap_actions": self.max_gap_actions,
            "holidays": [d.isoformat() for d in self.holidays],
        }


_INT_RULES = (
    "transition_days",
    "contact_business_days",
    "visit_days_high_risk",
    "visit_days_other",
    "recent_contact_days",
    "hospice_lookback_days",
    "still_a_patient_days",
    "ed_lookback_days",
    "max_gap_actions",
)


def rules_from_mapping(data: Mapping[str, Any] | None, source: str = "mapping") -> OutreachRules:
    """Validate a rules mapping (every key optional; unknown keys refused)."""
    data = dict(data or {})
    known = {*_INT_RULES, "high_risk_tiers", "holidays"}
    unknown = set(data) - known
    if unknown:
        raise OutreachConfigError(f"{source}: unknown setting(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key in _INT_RULES:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise OutreachConfigError(f"{source}: {key} must be a whole number >= 0")
            values[key] = value
    if "high_risk_tiers" in data:
        tiers = data["high_risk_tiers"] or []
        if not isinstance(tiers, list) or any(str(t).lower() not in TIER_ORDER for t in tiers):
            raise OutreachConfigError(
                f"{source}: high_risk_tiers must be a list of {sorted(TIER_ORDER)}"
            )
        values["high_risk_tiers"] = tuple(str(t).lower() for t in tiers)
    if "holidays" in data:
        holidays = []
        for item in data["holidays"] or []:
            try:
                holidays.append(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError as exc:
                raise OutreachConfigError(
                    f"{source}: holidays must be ISO dates (YYYY-MM-DD); {item!r} is not"
                ) from exc
        values["holidays"] = tuple(sorted(set(holidays)))
    return OutreachRules(**values, source=source)


@dataclass(frozen=True)
class Coordinator:
    id: str
    capacity: int


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    practices: tuple[str, ...]
    coordinators: tuple[Coordinator, ...]

    @property
    def capacity(self) -> int:
        return sum(c.capacity for c in self.coordinators)


@dataclass(frozen=True)
class Roster:
    """Teams, their coordinators and capacity, practice -> team (config/teams.yml)."""

    teams: tuple[Team, ...]
    default_team: str
    care_management_team: str
    source: str = field(default="mapping", compare=False)
    sha256: str | None = field(default=None, compare=False)

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def team_for_practice(self, practice: str | None) -> str:
        for team in self.teams:
            if practice is not None and practice in team.practices:
                return team.id
        return self.default_team

    @property
    def list_ids(self) -> tuple[str, ...]:
        """Every list written each run: the teams and the care-management list."""
        return tuple(sorted({*(t.id for t in self.teams), self.care_management_team}))


def _team_id(value: Any, where: str) -> str:
    text = str(value or "")
    if not _TEAM_ID.match(text) or "__" in text:
        raise OutreachConfigError(
            f"{where}: team id {text!r} must be lowercase letters, digits, '-' or '_' (no '__'), "
            "up to 63 characters: it names the CSV file"
        )
    return text


def roster_from_mapping(data: Mapping[str, Any] | None, source: str = "mapping") -> Roster:
    """Validate a roster mapping; the message of any error names the file and the key."""
    if not isinstance(data, Mapping):
        raise OutreachConfigError(f"{source}: expected a mapping with 'teams'")
    unknown = set(data) - {"default_team", "care_management_team", "teams"}
    if unknown:
        raise OutreachConfigError(f"{source}: unknown key(s) {sorted(unknown)}")
    raw_teams = data.get("teams")
    if not isinstance(raw_teams, list) or not raw_teams:
        raise OutreachConfigError(f"{source}: 'teams' must be a non-empty list")
    teams: list[Team] = []
    seen_practice: dict[str, str] = {}
    seen_coordinator: set[str] = set()
    for index, raw in enumerate(raw_teams):
        where = f"{source}: teams[{index}]"
        if not isinstance(raw, Mapping):
            raise OutreachConfigError(f"{where} must be a mapping")
        extra = set(raw) - {"id", "name", "practices", "coordinators", "capacity"}
        if extra:
            raise OutreachConfigError(f"{where}: unknown key(s) {sorted(extra)}")
        team_id = _team_id(raw.get("id"), where)
        if any(t.id == team_id for t in teams):
            raise OutreachConfigError(f"{where}: team id {team_id!r} is listed twice")
        default_capacity = raw.get("capacity")
        practices = tuple(str(p) for p in raw.get("practices") or [])
        for practice in practices:
            if practice in seen_practice:
                raise OutreachConfigError(
                    f"{where}: practice {practice!r} is already mapped to team "
                    f"{seen_practice[practice]!r}"
                )
            seen_practice[practice] = team_id
        coordinators: list[Coordinator] = []
        for c_index, item in enumerate(raw.get("coordinators") or []):
            c_where = f"{where}.coordinators[{c_index}]"
            if isinstance(item, str):
                item = {"id": item}
            if not isinstance(item, Mapping) or not str(item.get("id") or "").strip():
                raise OutreachConfigError(f"{c_where}: needs an id")
            coordinator_id = str(item["id"]).strip()
            capacity = item.get("capacity", default_capacity)
            if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
                raise OutreachConfigError(
                    f"{c_where}: capacity must be a whole number >= 0 (or set the team's capacity)"
                )
            if coordinator_id in seen_coordinator:
                raise OutreachConfigError(f"{c_where}: coordinator {coordinator_id!r} listed twice")
            seen_coordinator.add(coordinator_id)
            coordinators.append(Coordinator(coordinator_id, capacity))
        if not coordinators:
            raise OutreachConfigError(f"{where}: team {team_id!r} has no coordinators")
        teams.append(Team(team_id, str(raw.get("name") or team_id), practices, tuple(coordinators)))
    default_team = _team_id(data.get("default_team"), f"{source}: default_team")
    if default_team not in {t.id for t in teams}:
        raise OutreachConfigError(f"{source}: default_team {default_team!r} is not a listed team")
    care_team = _team_id(
        data.get("care_management_team", "care_management"), f"{source}: care_management_team"
    )
    if care_team in {t.id for t in teams}:
        raise OutreachConfigError(
            f"{source}: care_management_team {care_team!r} must not also be a coordinator team"
        )
    return Roster(tuple(teams), default_team, care_team, source=source)


def _config_path(environ: Mapping[str, str] | None, name: str, default: Path) -> Path:
    env = os.environ if environ is None else environ
    text = (env.get(name) or "").strip()
    return Path(text).expanduser() if text else default


def _read_yaml(path: Path, env_name: str) -> tuple[Any, str]:
    if not path.is_file():
        raise OutreachConfigError(
            f"outreach configuration {path} not found (set {env_name} to the file's path)"
        )
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise OutreachConfigError(f"{path}: not valid UTF-8 YAML ({exc})") from exc
    return data, hashlib.sha256(raw).hexdigest()


def load_roster(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Roster:
    """The roster from ``path``, else ``POPCARE_TEAMS``, else config/teams.yml."""
    path = path or _config_path(environ, ENV_TEAMS, DEFAULT_TEAMS_FILE)
    data, digest = _read_yaml(path, ENV_TEAMS)
    roster = roster_from_mapping(data, source=str(path))
    return Roster(roster.teams, roster.default_team, roster.care_management_team, path.name, digest)


def load_rules(path: Path | None = None, environ: Mapping[str, str] | None = None) -> OutreachRules:
    """The cut-offs from ``path``, else ``POPCARE_OUTREACH_RULES``, else config/outreach.yml."""
    path = path or _config_path(environ, ENV_RULES, DEFAULT_RULES_FILE)
    data, digest = _read_yaml(path, ENV_RULES)
    if data is not None and not isinstance(data, Mapping):
        raise OutreachConfigError(f"{path}: expected a mapping of settings")
    rules = rules_from_mapping(data, source=str(path))
    values = {k: getattr(rules, k) for k in (*_INT_RULES, "high_risk_tiers", "holidays")}
    return OutreachRules(**values, source=path.name, sha256=digest)


# --------------------------------------------------------------------------------------------
# Deadlines, reasons and actions
# --------------------------------------------------------------------------------------------


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """``days`` business days after ``start`` (Monday-Friday, minus the configured holidays)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            remaining -= 1
    return current


@dataclass(frozen=True)
class TransitionDeadlines:
    """CMS TCM timing: interactive contact within 2 business days of discharge; face-to-face
    visit within 7 days (99496, high complexity) or 14 days (99495, moderate)."""

    contact_by: date
    visit_by: date
    high_risk: bool


def transition_deadlines(
    discharge_date: date, risk_tier: str | None, rules: OutreachRules
) -> TransitionDeadlines:
    # No score yet means unknown complexity: the shorter visit window is the safe default.
    high_risk = risk_tier is None or risk_tier in rules.high_risk_tiers
    visit_days = rules.visit_days_high_risk if high_risk else rules.visit_days_other
    return TransitionDeadlines(
        contact_by=add_business_days(discharge_date, rules.contact_business_days, rules.holidays),
        visit_by=discharge_date + timedelta(days=visit_days),
        high_risk=high_risk,
    )


def due_by(candidate: Mapping[str, Any], deadlines: TransitionDeadlines | None, as_of: date):
    """The next deadline: for a transition the contact date, once past it the visit date; for
    anyone else the end of the measurement period of the earliest closable gap (or none)."""
    if deadlines is not None:
        return deadlines.contact_by if deadlines.contact_by >= as_of else deadlines.visit_by
    return candidate.get("gaps_close_by")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _facility_label(facility: str | None) -> str:
    if not facility:
        return "hospital"
    return f"facility NPI {facility}" if facility.isdigit() else facility


def format_score(score: float | None) -> str:
    return "" if score is None else f"{score:.3f}"


def compose_reasons(candidate: Mapping[str, Any], as_of: date, rules: OutreachRules) -> str:
    """Why this person is on the list, in words: recent events, the risk score and its reasons,
    open gaps, the last outreach."""
    parts: list[str] = []
    discharge = candidate.get("last_discharge_date")
    if discharge is not None and (as_of - discharge).days <= max(rules.transition_days, 30):
        days = (as_of - discharge).days
        when = "today" if days == 0 else f"{_plural(days, 'day')} ago"
        text = (
            f"Discharged from {_facility_label(candidate.get('last_discharge_facility'))} "
            f"on {discharge.isoformat()} ({when})"
        )
        if candidate.get("priority_group") == 1:
            text += ", no follow-up visit yet"
        parts.append(text)
    tier = candidate.get("risk_tier")
    if tier:
        score = candidate.get("risk_score")
        shown = f" (score {format_score(score)})" if score is not None else ""
        parts.append(f"Risk tier {tier}{shown}")
    for key in ("risk_reason_1", "risk_reason_2", "risk_reason_3"):
        reason = (candidate.get(key) or "").strip()
        if reason:
            parts.append(reason)
    ed_visits = candidate.get("ed_visit_count") or 0
    if ed_visits:
        parts.append(f"{_plural(ed_visits, 'ED visit')} in the last {rules.ed_lookback_days} days")
    gaps = candidate.get("open_gap_count") or 0
    if gaps:
        parts.append(f"{_plural(gaps, 'open care gap')}")
    last = candidate.get("last_outreach_date")
    if last is not None:
        outcome = (candidate.get("last_outreach_outcome") or "").replace("_", " ").strip()
        parts.append(f"Last outreach {last.isoformat()}" + (f": {outcome}" if outcome else ""))
    return "; ".join(parts)


def gap_actions(candidate: Mapping[str, Any]) -> list[str]:
    """The distinct actions of the person's closable gaps, in measure order."""
    seen: list[str] = []
    for action in (candidate.get("gap_actions") or "").split("|"):
        action = action.strip()
        if action and action not in seen:
            seen.append(action)
    return seen


def compose_action(
    candidate: Mapping[str, Any],
    as_of: date,
    deadlines: TransitionDeadlines | None,
    rules: OutreachRules,
) -> str:
    """What to do, with dates: the transition-of-care calls first, then the gaps' actions."""
    steps: list[str] = []
    if deadlines is not None:
        days = _plural(rules.contact_business_days, "business day")
        if deadlines.contact_by >= as_of:
            steps.append(f"Call by {deadlines.contact_by.isoformat()} (within {days} of discharge)")
        else:
            steps.append(
                f"Call today (contact was due within {days} of discharge, by "
                f"{deadlines.contact_by.isoformat()})"
            )
        visit = f"book a follow-up visit by {deadlines.visit_by.isoformat()}"
        steps.append(visit + (" (overdue)" if deadlines.visit_by < as_of else ""))
    elif candidate.get("priority_group") == 2:
        steps.append(
            "Review the care plan with the patient"
            if candidate.get("routed_to_care_manager")
            else "Call to review health needs and offer care management"
        )
    actions = gap_actions(candidate)
    shown = actions[: rules.max_gap_actions]
    if len(actions) > len(shown):
        shown.append(f"{len(actions) - len(shown)} more open gap action(s)")
    if shown and steps:
        steps.append("also: " + "; ".join(shown))
    else:
        steps.extend(shown)
    return "; ".join(steps)


# --------------------------------------------------------------------------------------------
# Ranking and assignment
# --------------------------------------------------------------------------------------------


def _score(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def rank_key(candidate: Mapping[str, Any]) -> tuple[int, date, int, float, str]:
    """Sort key: priority group; group 1 by due date, tier, score; group 2 by tier (complex
    before high) and score; group 3 by score; person_id breaks every tie. No score sorts last."""
    group = int(candidate["priority_group"])
    score = _score(candidate.get("risk_score"))
    negative_score = -score if score is not None else math.inf
    tier = TIER_ORDER.get(candidate.get("risk_tier") or "", len(TIER_ORDER))
    person_id = str(candidate["person_id"])
    if group == 1:
        return (group, candidate.get("due_by") or date.max, tier, negative_score, person_id)
    if group == 2:
        return (group, date.min, tier, negative_score, person_id)
    return (group, date.min, 0, negative_score, person_id)


def rank_candidates(candidates: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(candidates, key=rank_key)


def balance(count: int, coordinators: Sequence[Coordinator]) -> list[str | None]:
    """Assignee of each of ``count`` rows in rank order: round-robin over the coordinators in
    roster order, skipping those at capacity; None once everyone is full (over capacity)."""
    load = [0] * len(coordinators)
    assignees: list[str | None] = []
    pointer = 0
    for _ in range(count):
        chosen = None
        for step in range(len(coordinators)):
            index = (pointer + step) % len(coordinators)
            if load[index] < coordinators[index].capacity:
                chosen = index
                break
        if chosen is None:
            assignees.append(None)
            continue
        load[chosen] += 1
        assignees.append(coordinators[chosen].id)
        pointer = chosen + 1
    return assignees


def assign(ranked: Sequence[Mapping[str, Any]], roster: Roster) -> list[dict[str, Any]]:
    """Team, team rank, assignee and assignment kind for each ranked candidate.

    A person with a registry care manager goes to the care-management list under that manager
    (no capacity: they are already the manager's caseload). Everyone else goes to the team of the
    attributed practice (else the default team) and is balanced across its coordinators.
    """
    by_team: dict[str, list[Mapping[str, Any]]] = {}
    for candidate in ranked:
        team = (
            roster.care_management_team
            if candidate.get("routed_to_care_manager")
            else roster.team_for_practice(candidate.get("attributed_practice"))
        )
        by_team.setdefault(team, []).append(candidate)
    assigned: list[dict[str, Any]] = []
    for team_id in sorted(by_team):
        members = by_team[team_id]
        team = roster.team(team_id)
        if team is None:  # the care-management list
            assignees = [m.get("care_manager_id") for m in members]
            kinds = ["care_manager"] * len(members)
        else:
            assignees = balance(len(members), team.coordinators)
            kinds = ["coordinator" if a else "over_capacity" for a in assignees]
        for rank, (member, assignee, kind) in enumerate(
            zip(members, assignees, kinds, strict=True), start=1
        ):
            assigned.append(
                {
                    **member,
                    "team": team_id,
                    "rank": rank,
                    "care_manager": assignee,
                    "assignment": kind,
                }
            )
    return assigned


def prepare_candidate(
    candidate: Mapping[str, Any], as_of: date, rules: OutreachRules
) -> dict[str, Any]:
    """A candidate row with its deadlines, due date, reasons and suggested action filled in."""
    row = dict(candidate)
    row["risk_score"] = _score(row.get("risk_score"))
    deadlines = None
    if row.get("priority_group") == 1 and row.get("last_discharge_date") is not None:
        deadlines = transition_deadlines(row["last_discharge_date"], row.get("risk_tier"), rules)
    row["due_by"] = due_by(row, deadlines, as_of)
    row["reasons"] = compose_reasons(row, as_of, rules)
    row["suggested_action"] = compose_action(row, as_of, deadlines, rules)
    return row


# --------------------------------------------------------------------------------------------
# Spreadsheet-safe CSV, atomic owner-only files
# --------------------------------------------------------------------------------------------


def neutralise(cell: str) -> str:
    """Prefix ``'`` when a text cell would start a formula: its first character, or its first
    character after leading spaces, is = + - @ (or a full-width form), tab or carriage return."""
    if not cell:
        return cell
    if cell[0] in FORMULA_TRIGGERS or cell.lstrip(" \u00a0")[:1] in FORMULA_TRIGGERS:
        return "'" + cell
    return cell


def _needs_quotes(text: str) -> bool:
    return any(ch in text for ch in ',"\r\n')


def format_number(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number cell")
    if isinstance(value, int):
        return str(value)
    number = float(value) if isinstance(value, Decimal) else value
    if isinstance(number, float):
        if math.isnan(number) or math.isinf(number):
            return ""
        return format_score(number)
    raise TypeError("numeric column holds a non-number")


def format_cell(column: str, value: Any) -> str:
    """One CSV field: numbers plain, dates ISO, text neutralised; RFC 4180 quoting, with
    identifier columns always quoted."""
    if value is None:
        return ""
    if column in NUMERIC_COLUMNS:
        return format_number(value)
    text = value.isoformat() if isinstance(value, date) else str(value)
    text = neutralise(text)
    if column in IDENTIFIER_COLUMNS or _needs_quotes(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(columns: Sequence[str], values: Sequence[Any]) -> bytes:
    return (
        ",".join(format_cell(c, v) for c, v in zip(columns, values, strict=True)) + "\r\n"
    ).encode("utf-8")


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make the leaf owner-only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_chunks_atomic(path: Path, chunks: Iterable[bytes]) -> str:
    """Write ``chunks`` to ``path`` atomically and owner-only; returns the SHA-256 of the bytes.

    The temp file is created in the same folder with O_EXCL and mode 0600 (never readable by
    others, even briefly), fsynced, then renamed over ``path`` with os.replace. On any failure the
    temp file is removed and the previous ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        handle = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    digest = hashlib.sha256()
    try:
        with handle:
            os.fchmod(handle.fileno(), 0o600)  # the umask can only narrow 0600; make it exact
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return digest.hexdigest()


def write_csv_atomic(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """UTF-8 with BOM, CRLF, RFC 4180 CSV written atomically with mode 0600; returns SHA-256."""

    def chunks() -> Iterable[bytes]:
        yield "\ufeff".encode()
        yield ",".join(header).encode("utf-8") + b"\r\n"
        for row in rows:
            yield csv_line(header, row)

    return write_chunks_atomic(path, chunks())


def write_json_atomic(path: Path, data: Any) -> str:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return write_chunks_atomic(path, [text.encode("utf-8")])


LATEST_POINTER = "latest.json"


def write_latest_pointer(out_dir: Path, as_of: date, run_id: str, manifest_path: Path) -> Path:
    """Point ``OUT/outreach/latest.json`` at the as-of folder just published.

    Written (atomically, owner-only) only after every file of the folder and its manifest are in
    place, by a run whose blocking checks all passed: a run stopped by the publication gate never
    reaches it, so the pointer keeps naming the last lists that were published.
    """
    pointer = out_dir / "outreach" / LATEST_POINTER
    write_json_atomic(
        pointer,
        {
            "as_of_date": as_of.isoformat(),
            "folder": as_of.isoformat(),
            "manifest": manifest_path.name,
            "manifest_sha256": _file_sha256(manifest_path),
            "run_id": run_id,
            "published_at": datetime.now().isoformat(timespec="seconds"),
        },
    )
    return pointer


def read_latest_pointer(out_dir: Path) -> dict[str, Any] | None:
    """The last publication named by ``OUT/outreach/latest.json``; None if none or unreadable."""
    try:
        data = json.loads((out_dir / "outreach" / LATEST_POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("folder") else None


# --------------------------------------------------------------------------------------------
# The three steps the assets run
# --------------------------------------------------------------------------------------------


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    (count,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = $s and table_name = $n",
        {"s": schema, "n": name},
    ).fetchall()[0]
    return count > 0


def upstream_tables(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], list[str]]:
    """The tables the candidate SQL reads for ``{{ risk_scores }}`` and ``{{ measure_patient }}``:
    the marts when they exist, else empty temporary stand-ins with the documented columns (the
    warehouse is not touched). Returns the identifiers and the names of the missing marts."""
    identifiers: dict[str, str] = {}
    missing: list[str] = []
    for name, columns in UPSTREAM_COLUMNS.items():
        if table_exists(con, "marts", name):
            identifiers[name] = f"marts.{name}"
            continue
        missing.append(f"marts.{name}")
        stand_in = f"outreach_standin_{name}"
        cols = ", ".join(f"{col} {sql_type}" for col, sql_type in columns)
        con.execute(f"create or replace temp table {stand_in} ({cols})")
        identifiers[name] = stand_in
    return identifiers, missing


def sql_params(as_of: date, rules: OutreachRules) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "transition_days": rules.transition_days,
        "recent_contact_days": rules.recent_contact_days,
        "hospice_lookback_days": rules.hospice_lookback_days,
        "still_a_patient_days": rules.still_a_patient_days,
        "ed_lookback_days": rules.ed_lookback_days,
        "outreach_actions_csv": str(OUTREACH_ACTIONS_CSV),
    }


def _count_by(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    return {str(key): int(count) for key, count in con.execute(sql).fetchall()}


def suppression_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Persons by primary reason, rows by reason (any that applies), persons by outcome; every
    reason and outcome is present, zero when none."""
    primary = _count_by(
        con,
        "select reason, count(*) from marts.outreach_suppressed where is_primary group by reason",
    )
    any_reason = _count_by(
        con, "select reason, count(*) from marts.outreach_suppressed group by reason"
    )
    outcome = _count_by(
        con,
        "select outcome, count(distinct person_id) from marts.outreach_suppressed group by outcome",
    )
    return {
        "by_primary_reason": {r: primary.get(r, 0) for r in SUPPRESSION_REASONS},
        "by_reason": {r: any_reason.get(r, 0) for r in SUPPRESSION_REASONS},
        "by_outcome": {o: outcome.get(o, 0) for o in ("suppressed", ROUTED)},
    }


def build_candidates(
    con: duckdb.DuckDBPyConnection, as_of: date, rules: OutreachRules
) -> dict[str, Any]:
    """Build marts.outreach_candidates and marts.outreach_suppressed; counts only."""
    con.execute("create schema if not exists marts")
    identifiers, missing = upstream_tables(con)
    params = sql_params(as_of, rules)
    run_sql(con, "marts/outreach_candidates", params, identifiers).fetchall()
    run_sql(con, "marts/outreach_suppressed", params).fetchall()
    groups = _count_by(
        con,
        "select cast(priority_group as varchar), count(*) from marts.outreach_candidates "
        "where priority_group is not null group by priority_group order by priority_group",
    )
    return {
        "persons": con.execute("select count(*) from marts.outreach_candidates").fetchall()[0][0],
        "candidates_by_priority_group": groups,
        "suppression": suppression_counts(con),
        "missing_upstream": missing,
    }


_LIST_SCHEMA = pa.schema(
    [
        ("team", pa.string()),
        ("rank", pa.int32()),
        ("priority_group", pa.int32()),
        ("person_id", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("birth_date", pa.date32()),
        ("phone", pa.string()),
        ("preferred_language", pa.string()),
        ("preferred_contact", pa.string()),
        ("payer", pa.string()),
        ("attributed_practice", pa.string()),
        ("care_manager", pa.string()),
        ("risk_tier", pa.string()),
        ("risk_score", pa.float64()),
        ("reasons", pa.string()),
        ("open_gaps", pa.string()),
        ("last_discharge_date", pa.date32()),
        ("last_discharge_facility", pa.string()),
        ("due_by", pa.date32()),
        ("suggested_action", pa.string()),
        ("assignment", pa.string()),
        ("model_version", pa.string()),
        ("as_of_date", pa.date32()),
    ]
)


def list_rows(
    candidates: Iterable[Mapping[str, Any]], as_of: date, rules: OutreachRules, roster: Roster
) -> list[dict[str, Any]]:
    """The pure core of the list: prepare, rank, assign (rows of marts.outreach_list)."""
    prepared = [prepare_candidate(c, as_of, rules) for c in candidates]
    rows = assign(rank_candidates(prepared), roster)
    return [
        {name: row.get(name) for name in _LIST_SCHEMA.names} | {"as_of_date": as_of} for row in rows
    ]


def _fetch_dicts(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in result.description]
    return [dict(zip(names, values, strict=True)) for values in result.fetchall()]


def build_outreach_list(
    con: duckdb.DuckDBPyConnection, as_of: date, rules: OutreachRules, roster: Roster
) -> dict[str, Any]:
    """Rank and assign the candidates into marts.outreach_list; counts only."""
    candidates = _fetch_dicts(run_sql(con, "marts/outreach_list_input"))
    rows = list_rows(candidates, as_of, rules, roster)
    con.register("outreach_list_rows", pa.Table.from_pylist(rows, schema=_LIST_SCHEMA))
    try:
        run_sql(con, "marts/outreach_list").fetchall()
    finally:
        con.unregister("outreach_list_rows")
    return list_counts(con)


def list_counts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {
        "rows": con.execute("select count(*) from marts.outreach_list").fetchall()[0][0],
        "rows_by_team": _count_by(
            con, "select team, count(*) from marts.outreach_list group by team order by team"
        ),
        "over_capacity_by_team": _count_by(
            con,
            "select team, count(*) from marts.outreach_list where assignment = 'over_capacity' "
            "group by team order by team",
        ),
        "rows_by_priority_group": _count_by(
            con,
            "select cast(priority_group as varchar), count(*) from marts.outreach_list "
            "group by priority_group order by priority_group",
        ),
    }


def _file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def value_set_versions(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Versions of every value set the measures loaded (marts.measure_value_set), if built."""
    if not table_exists(con, "marts", "measure_value_set"):
        return {}
    versions: dict[str, list[str]] = {}
    for value_set, version in con.execute(
        "select distinct value_set, coalesce(version, '') from marts.measure_value_set "
        "order by 1, 2"
    ).fetchall():
        versions.setdefault(value_set, []).append(version)
    return versions


def write_outreach_files(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    as_of: date,
    run_id: str,
    roster: Roster,
    rules: OutreachRules,
) -> dict[str, Any]:
    """Write OUT/outreach/<as_of>/<team>.csv (plus <team>__overflow.csv when a team is over
    capacity) and manifest.json; returns counts and the manifest path."""
    folder = out_dir / "outreach" / as_of.isoformat()
    ensure_private_dir(out_dir / "outreach")
    ensure_private_dir(folder)
    result = con.execute(
        f"select team, assignment, {', '.join(CSV_COLUMNS)} from marts.outreach_list "
        "order by team, rank"
    )
    by_team: dict[str, list[tuple[Any, ...]]] = {}
    overflow: dict[str, list[tuple[Any, ...]]] = {}
    for row in result.fetchall():
        target = overflow if row[1] == "over_capacity" else by_team
        target.setdefault(row[0], []).append(row[2:])
    files: list[dict[str, Any]] = []
    written: set[str] = set()
    for team in sorted({*roster.list_ids, *by_team, *overflow}):
        outputs = [(f"{team}.csv", "list", by_team.get(team, []))]
        if overflow.get(team):
            outputs.append((f"{team}__overflow.csv", "over_capacity", overflow[team]))
        for name, kind, rows in outputs:
            digest = write_csv_atomic(folder / name, CSV_COLUMNS, rows)
            written.add(name)
            files.append(
                {"file": name, "team": team, "kind": kind, "rows": len(rows), "sha256": digest}
            )
    # Files of an earlier run for the same date that this run did not write (a team removed, an
    # overflow cleared) and temp files of an interrupted run would mislead: remove them.
    for stale in sorted(folder.iterdir()):
        if (stale.suffix == ".csv" and stale.name not in written) or stale.name.endswith(".tmp"):
            stale.unlink()
    model_versions = [
        v
        for (v,) in con.execute(
            "select distinct model_version from marts.outreach_candidates "
            "where model_version is not null order by 1"
        ).fetchall()
    ]
    missing = [f"marts.{n}" for n in UPSTREAM_COLUMNS if not table_exists(con, "marts", n)]
    counts = list_counts(con)
    suppression = suppression_counts(con)
    manifest = {
        "run_id": run_id,
        "as_of_date": as_of.isoformat(),
        "model_version": model_versions,
        "value_set_versions": value_set_versions(con),
        "missing_upstream": missing,
        "columns": list(CSV_COLUMNS),
        "format": "UTF-8 with BOM, CRLF line endings, RFC 4180 quoting, ISO dates",
        "files": files,
        "row_counts": {f["file"].removesuffix(".csv"): f["rows"] for f in files},
        "rows_by_priority_group": counts["rows_by_priority_group"],
        "suppressed_by_primary_reason": suppression["by_primary_reason"],
        "suppression_rows_by_reason": suppression["by_reason"],
        "suppressed_persons_by_outcome": suppression["by_outcome"],
        "rules": rules.manifest(),
        "config": {
            "teams": {"file": roster.source, "sha256": roster.sha256},
            "rules": {"file": rules.source, "sha256": rules.sha256},
            "outreach_actions": {
                "file": OUTREACH_ACTIONS_CSV.name,
                "sha256": _file_sha256(OUTREACH_ACTIONS_CSV),
            },
        },
    }
    manifest_path = folder / "manifest.json"
    write_json_atomic(manifest_path, manifest)
    return {
        "folder": str(folder),
        "manifest": str(manifest_path),
        "files": len(files),
        "rows_by_file": {f["file"].removesuffix(".csv"): f["rows"] for f in files},
        "suppressed_by_primary_reason": suppression["by_primary_reason"],
        "rows_by_priority_group": counts["rows_by_priority_group"],
        "missing_upstream": missing,
    }
