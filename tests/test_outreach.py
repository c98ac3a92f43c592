"""Outreach pure functions: deadlines, ranking, balancing, wording, spreadsheet-safe atomic CSV."""

import os
import stat
from datetime import date
from pathlib import Path

import pytest

from pipelines import outreach
from pipelines.outreach import (
    CSV_COLUMNS,
    Coordinator,
    OutreachConfigError,
    OutreachRules,
    add_business_days,
    assign,
    balance,
    compose_action,
    compose_reasons,
    format_cell,
    load_roster,
    load_rules,
    neutralise,
    prepare_candidate,
    rank_candidates,
    roster_from_mapping,
    rules_from_mapping,
    transition_deadlines,
    write_csv_atomic,
)
from pipelines.settings import REPO_ROOT

AS_OF = date(2026, 9, 30)
RULES = OutreachRules()


# ---- business days and CMS TCM deadlines -------------------------------------------------


def test_friday_discharge_is_due_on_tuesday():
    friday = date(2026, 9, 25)
    assert friday.weekday() == 4
    assert add_business_days(friday, 2) == date(2026, 9, 29)  # Tuesday
    assert add_business_days(date(2026, 9, 26), 2) == date(2026, 9, 29)  # Saturday -> Tuesday
    assert add_business_days(date(2026, 9, 28), 2) == date(2026, 9, 30)  # Monday -> Wednesday
    assert add_business_days(friday, 0) == friday


def test_configured_holidays_are_not_business_days():
    # Thanksgiving 2026 is Thursday 26 November: a Wednesday discharge is due on Monday.
    assert add_business_days(date(2026, 11, 25), 2, {date(2026, 11, 26)}) == date(2026, 11, 30)
    assert add_business_days(date(2026, 11, 25), 2) == date(2026, 11, 27)


def test_visit_window_is_7_days_for_high_risk_and_14_otherwise():
    discharge = date(2026, 9, 25)
    high = transition_deadlines(discharge, "high", RULES)
    assert (high.contact_by, high.visit_by, high.high_risk) == (
        date(2026, 9, 29),
        date(2026, 10, 2),
        True,
    )
    rising = transition_deadlines(discharge, "rising", RULES)
    assert (rising.visit_by, rising.high_risk) == (date(2026, 10, 9), False)
    # No score yet: the shorter window is the safe default.
    assert transition_deadlines(discharge, None, RULES).visit_by == date(2026, 10, 2)


def _candidate(pid, group, tier=None, score=None, **kw):
    row = {
        "person_id": pid,
        "priority_group": group,
        "risk_tier": tier,
        "risk_score": score,
        "routed_to_care_manager": False,
        "attributed_practice": "PR01",
    }
    row.update(kw)
    return row


def test_due_by_is_the_contact_date_then_the_visit_date():
    fresh = prepare_candidate(
        _candidate("A", 1, "high", 0.9, last_discharge_date=date(2026, 9, 29)), AS_OF, RULES
    )
    assert fresh["due_by"] == date(2026, 10, 1)
    assert fresh["suggested_action"] == (
        "Call by 2026-10-01 (within 2 business days of discharge); "
        "book a follow-up visit by 2026-10-06"
    )
    late = prepare_candidate(
        _candidate("B", 1, "high", 0.9, last_discharge_date=date(2026, 9, 21)), AS_OF, RULES
    )
    assert late["due_by"] == date(2026, 9, 28)  # visit window (7 days) already passed
    assert late["suggested_action"] == (
        "Call today (contact was due within 2 business days of discharge, by 2026-09-23); "
        "book a follow-up visit by 2026-09-28 (overdue)"
    )
    gaps = prepare_candidate(
        _candidate("C", 3, "rising", 0.5, gaps_close_by=date(2026, 12, 31)), AS_OF, RULES
    )
    assert gaps["due_by"] == date(2026, 12, 31)


# ---- ranking and capacity -----------------------------------------------------------------


def test_ranking_orders_groups_tiers_scores_and_breaks_ties_on_person_id():
    rows = [
        _candidate("P9", 3, "rising", 0.99),
        _candidate("P8", 2, "high", 0.95),
        _candidate("P7", 2, "complex", 0.40),
        _candidate("P6", 2, "high", 0.70),
        _candidate("P5", 2, "high", 0.70),
        _candidate("P4", 1, "low", 0.10, due_by=date(2026, 10, 2)),
        _candidate("P3", 1, "complex", 0.90, due_by=date(2026, 10, 1)),
        _candidate("P2", 1, None, None, due_by=date(2026, 10, 1)),
        _candidate("P1", 2, "high", None),
    ]
    ranked = [r["person_id"] for r in rank_candidates(rows)]
    assert ranked == ["P3", "P2", "P4", "P7", "P8", "P5", "P6", "P1", "P9"]
    # The input order does not matter.
    assert [r["person_id"] for r in rank_candidates(reversed(rows))] == ranked


def test_equal_scores_are_ordered_by_person_id():
    rows = [_candidate(pid, 2, "high", 0.5) for pid in ("0010", "0002", "0001", "0100")]
    assert [r["person_id"] for r in rank_candidates(rows)] == ["0001", "0002", "0010", "0100"]


def test_balance_deals_round_robin_up_to_each_capacity():
    coordinators = [Coordinator("A", 3), Coordinator("B", 1), Coordinator("C", 2)]
    assert balance(8, coordinators) == ["A", "B", "C", "A", "C", "A", None, None]
    assert balance(0, coordinators) == []
    assert balance(2, [Coordinator("A", 0)]) == [None, None]


def test_assign_routes_care_managed_patients_and_balances_teams():
    roster = roster_from_mapping(
        {
            "default_team": "north",
            "teams": [
                {
                    "id": "north",
                    "practices": ["PR01"],
                    "coordinators": [{"id": "A", "capacity": 1}, {"id": "B", "capacity": 1}],
                },
                {"id": "south", "practices": ["PR02"], "capacity": 10, "coordinators": ["C"]},
            ],
        }
    )
    ranked = [
        _candidate("1", 1),
        _candidate("2", 2, attributed_practice="PR02"),
        _candidate("3", 2, routed_to_care_manager=True, care_manager_id="CM7"),
        _candidate("4", 2, attributed_practice=None),  # unknown practice -> default team
        _candidate("5", 2, attributed_practice="PR99"),
    ]
    rows = {
        r["person_id"]: (r["team"], r["rank"], r["care_manager"], r["assignment"])
        for r in assign(ranked, roster)
    }
    assert rows == {
        "1": ("north", 1, "A", "coordinator"),
        "4": ("north", 2, "B", "coordinator"),
        "5": ("north", 3, None, "over_capacity"),
        "2": ("south", 1, "C", "coordinator"),
        "3": ("care_management", 1, "CM7", "care_manager"),
    }


# ---- wording -----------------------------------------------------------------------------


def test_reasons_and_actions_are_plain_language():
    row = _candidate(
        "X",
        1,
        "high",
        0.8123,
        last_discharge_date=date(2026, 9, 28),
        last_discharge_facility="Riverside Medical Center",
        risk_reason_1="Two ED visits in 6 months",
        risk_reason_2=None,
        risk_reason_3="HCC 85",
        ed_visit_count=2,
        open_gap_count=2,
        gap_actions="Schedule a mammogram|Order eGFR and urine albumin-creatinine tests",
        last_outreach_date=date(2026, 5, 1),
        last_outreach_outcome="left_voicemail",
    )
    assert compose_reasons(row, AS_OF, RULES) == (
        "Discharged from Riverside Medical Center on 2026-09-28 (2 days ago), no follow-up visit "
        "yet; Risk tier high (score 0.812); Two ED visits in 6 months; HCC 85; 2 ED visits in the "
        "last 180 days; 2 open care gaps; Last outreach 2026-05-01: left voicemail"
    )
    deadlines = transition_deadlines(date(2026, 9, 28), "high", RULES)
    assert compose_action(row, AS_OF, deadlines, RULES) == (
        "Call by 2026-09-30 (within 2 business days of discharge); book a follow-up visit by "
        "2026-10-05; also: Schedule a mammogram; Order eGFR and urine albumin-creatinine tests"
    )
    npi = {**row, "last_discharge_facility": "1234567893"}
    assert "Discharged from facility NPI 1234567893 on" in compose_reasons(npi, AS_OF, RULES)


def test_gap_actions_are_deduplicated_and_capped():
    row = _candidate("Y", 3, "rising", 0.5, gap_actions="a|b|a|c|d|e")
    rules = rules_from_mapping({"max_gap_actions": 2})
    assert compose_action(row, AS_OF, None, rules) == "a; b; 3 more open gap action(s)"


# ---- spreadsheet safety and CSV bytes ------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+15550000050", "'+15550000050"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rCarriage", "'\rCarriage"),
        ("  =1+1", "'  =1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("Smith-Jones", "Smith-Jones"),
        ("O'Brien", "O'Brien"),
        ("", ""),
    ],
)
def test_neutralise_prefixes_formula_starts(cell, expected):
    assert neutralise(cell) == expected


def test_cells_numbers_dates_and_identifiers():
    assert format_cell("rank", 3) == "3"
    assert format_cell("risk_score", 0.5) == "0.500"
    assert format_cell("risk_score", -0.25) == "-0.250"  # a number, not a formula
    assert format_cell("risk_score", None) == ""
    assert format_cell("birth_date", date(1950, 1, 2)) == "1950-01-02"
    assert format_cell("person_id", "00042") == '"00042"'
    assert format_cell("phone", "+15550000050") == '"\'+15550000050"'
    assert format_cell("first_name", '=HYPERLINK("http://x","y")') == (
        '"\'=HYPERLINK(""http://x"",""y"")"'
    )
    assert format_cell("last_name", "Lee, Jr") == '"Lee, Jr"'
    assert format_cell("reasons", "two\r\nlines") == '"two\r\nlines"'
    assert format_cell("first_name", "José") == "José"


def test_csv_bytes_bom_crlf_quoting(tmp_path):
    path = tmp_path / "team.csv"
    row = [1, 1, "00042", "José", "=cmd", date(1950, 1, 2), "0612", None, None, "medicare, A"]
    row += ["PR01", "CA", "high", 0.5, 'say "hi"', None, None, None, None, "Call"]
    digest = write_csv_atomic(path, CSV_COLUMNS, [row])
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfrank,priority_group,person_id,")
    lines = data[3:].split(b"\r\n")
    assert lines[-1] == b""  # every line ends with CRLF
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert lines[1].decode("utf-8") == (
        '1,1,"00042",José,\'=cmd,1950-01-02,"0612",,,"medicare, A","PR01","CA",high,0.500,'
        '"say ""hi""",,,,,Call'
    )
    import hashlib

    assert digest == hashlib.sha256(data).hexdigest()


def test_write_is_owner_only_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "team.csv"
    old_umask = os.umask(0o000)  # even with a permissive umask
    try:
        write_csv_atomic(path, ["a"], [["x"]])
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team.csv"]


def test_a_failure_midway_keeps_the_previous_file_and_removes_the_temp_file(tmp_path):
    path = tmp_path / "team.csv"
    write_csv_atomic(path, ["a"], [["before"]])
    before = path.read_bytes()

    def rows():
        yield ["new 1"]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_csv_atomic(path, ["a"], rows())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team.csv"]


def test_the_temp_file_is_never_world_readable(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        return real_replace(src, dst)

    monkeypatch.setattr(outreach.os, "replace", spy)
    write_csv_atomic(tmp_path / "team.csv", ["a"], [["x"]])
    assert seen == [0o600]


# ---- configuration -------------------------------------------------------------------------


def test_shipped_config_maps_the_sample_practices():
    roster = load_roster(environ={})
    assert roster.source == "teams.yml"
    assert {roster.team_for_practice(p) for p in ("PR01", "PR02", "PR03")} == {"north", "south"}
    assert roster.team_for_practice(None) == roster.default_team
    assert roster.care_management_team == "care_management"
    assert all(t.capacity > 0 for t in roster.teams)
    assert load_rules(environ={}) == OutreachRules()


def test_config_paths_come_from_the_environment(tmp_path):
    teams = tmp_path / "teams.yml"
    teams.write_text(
        "default_team: a\nteams:\n  - id: a\n    coordinators: [{id: X, capacity: 1}]\n"
    )
    rules = tmp_path / "rules.yml"
    rules.write_text("recent_contact_days: 7\nholidays: [2026-11-26]\n")
    roster = load_roster(environ={"POPCARE_TEAMS": str(teams)})
    assert [t.id for t in roster.teams] == ["a"]
    loaded = load_rules(environ={"POPCARE_OUTREACH_RULES": str(rules)})
    assert loaded.recent_contact_days == 7
    assert loaded.holidays == (date(2026, 11, 26),)
    with pytest.raises(OutreachConfigError, match="POPCARE_TEAMS"):
        load_roster(environ={"POPCARE_TEAMS": str(tmp_path / "missing.yml")})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"default_team": "a", "teams": []}, "non-empty list"),
        ({"default_team": "a", "teams": [{"id": "../x", "coordinators": ["X"]}]}, "team id"),
        ({"default_team": "a", "teams": [{"id": "a__b", "coordinators": ["X"]}]}, "team id"),
        ({"default_team": "a", "teams": [{"id": "a", "coordinators": ["X"]}]}, "capacity"),
        ({"default_team": "a", "teams": [{"id": "a"}]}, "no coordinators"),
        (
            {"default_team": "b", "teams": [{"id": "a", "capacity": 1, "coordinators": ["X"]}]},
            "default_team",
        ),
        (
            {
                "default_team": "a",
                "teams": [
                    {"id": "a", "practices": ["P"], "capacity": 1, "coordinators": ["X"]},
                    {"id": "b", "practices": ["P"], "capacity": 1, "coordinators": ["Y"]},
                ],
            },
            "already mapped",
        ),
        (
            {
                "default_team": "a",
                "care_management_team": "a",
                "teams": [{"id": "a", "capacity": 1, "coordinators": ["X"]}],
            },
            "must not also be",
        ),
    ],
)
def test_bad_rosters_are_refused_with_the_key(data, message):
    with pytest.raises(OutreachConfigError, match=message):
        roster_from_mapping(data)


def test_bad_rules_are_refused():
    with pytest.raises(OutreachConfigError, match="unknown"):
        rules_from_mapping({"recent_contact_dayz": 3})
    with pytest.raises(OutreachConfigError, match="whole number"):
        rules_from_mapping({"transition_days": -1})
    with pytest.raises(OutreachConfigError, match="ISO dates"):
        rules_from_mapping({"holidays": ["26/11/2026"]})


def test_outreach_actions_file_is_well_formed():
    import csv

    path = REPO_ROOT / "measures" / "outreach_actions.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows and list(rows[0]) == [
        "measure_id",
        "gap_text",
        "action",
        "closable_now",
        "listed",
        "source",
    ]
    definitions = {p.stem for p in (REPO_ROOT / "measures" / "definitions").glob("*.yml")}
    listed = {r["measure_id"] for r in rows}
    # A new measure needs its gap wording and action here (else it shows as its bare id).
    assert listed == definitions, (sorted(definitions - listed), sorted(listed - definitions))
    for row in rows:
        assert row["closable_now"] in ("true", "false") and row["listed"] in ("true", "false")
        # A closable gap needs an action; '|' separates actions inside the SQL aggregate.
        assert (row["closable_now"] == "true") == bool(row["action"]), row["measure_id"]
        assert "|" not in row["action"]
        assert neutralise(row["gap_text"]) == row["gap_text"]
        assert neutralise(row["action"]) == row["action"]


def test_config_files_exist_where_the_docs_say():
    assert Path(REPO_ROOT / "config" / "teams.yml").is_file()
    assert Path(REPO_ROOT / "config" / "outreach.yml").is_file()
