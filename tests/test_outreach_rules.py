"""Outreach SQL on a hand-built population: priority groups, every suppression rule, routing,
the ranked and assigned list. The population and each person's purpose: test_outreach_fixtures."""

import duckdb
import pytest

from pipelines.outreach import (
    SUPPRESSION_REASONS,
    OutreachRules,
    build_candidates,
    build_outreach_list,
    rules_from_mapping,
)
from tests.test_outreach_fixtures import AS_OF, INJECTION_NAME, PURPOSE, ROSTER, build_world

RULES = OutreachRules()


@pytest.fixture(scope="module")
def world():
    con = duckdb.connect()
    build_world(con)
    stats = build_candidates(con, AS_OF, RULES)
    build_outreach_list(con, AS_OF, RULES, ROSTER)
    yield con, stats
    con.close()


def _groups(con):
    return dict(
        con.execute("select person_id, priority_group from marts.outreach_candidates").fetchall()
    )


def _reasons(con):
    rows = con.execute(
        "select person_id, reason, is_primary, outcome from marts.outreach_suppressed"
    ).fetchall()
    out: dict[str, list[tuple[str, bool, str]]] = {}
    for pid, reason, primary, outcome in rows:
        out.setdefault(pid, []).append((reason, primary, outcome))
    return out


def test_one_candidate_row_per_person(world):
    con, stats = world
    assert stats["persons"] == len(PURPOSE)
    (dupes,) = con.execute(
        "select count(*) - count(distinct person_id) from marts.outreach_candidates"
    ).fetchone()
    assert dupes == 0


def test_priority_groups(world):
    con, _ = world
    groups = _groups(con)
    # 1: transitions of care (home discharge in the last 14 days, no follow-up yet).
    assert groups["00001"] == 1
    assert groups["00002"] == 1  # 14 days: still in the window
    assert groups["00044"] == 1
    assert groups["00003"] is None  # 15 days
    assert groups["00004"] is None  # office visit since the discharge
    assert groups["00005"] is None  # discharged to a SNF
    # 2: complex and high tiers.
    assert {groups[p] for p in ("00010", "00011", "00012", "00013")} == {2}
    # 3: rising tier with a gap that can be closed now.
    assert groups["00020"] == 3
    assert groups["00021"] is None  # only a FUH gap: not closable from the list
    assert groups["00022"] is None  # the gap belongs to last year's period
    assert groups["00023"] is None  # low tier (an older 'complex' score does not count)


def test_candidate_facts(world):
    con, _ = world
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select person_id, attributed_practice, risk_tier, model_version, open_gaps, "
            "closable_gap_count, last_discharge_date, last_discharge_facility, phone "
            "from marts.outreach_candidates"
        ).fetchall()
    }
    assert rows["00051"][0] == "PR02"  # latest month on or before the as-of month
    assert rows["00023"][1:3] == ("low", "test-1")
    # edu is a utilisation rate, listed = false: not shown as a gap.
    assert rows["00010"][3:5] == (
        "Colorectal cancer screening due; Kidney health check due (eGFR and urine "
        "albumin-creatinine ratio)",
        2,
    )
    assert str(rows["00001"][5]) == "2026-09-29"
    assert rows["00001"][6] == "1234567893"
    assert rows["00050"][7] == "+15550000050"


@pytest.mark.parametrize(
    ("pid", "reason"),
    [
        ("00030", "deceased"),
        ("00031", "deceased"),
        ("00032", "hospice"),
        ("00034", "hospice"),
        ("00035", "hospice"),
        ("00036", "not_enrolled"),
        ("00038", "currently_inpatient"),
        ("00039", "currently_inpatient"),
        ("00040", "opted_out"),
        ("00041", "recently_contacted"),
        ("00042", "recently_contacted"),
    ],
)
def test_each_suppression_rule(world, pid, reason):
    con, _ = world
    assert _reasons(con)[pid] == [(reason, True, "suppressed")], PURPOSE[pid]
    listed = {r[0] for r in con.execute("select person_id from marts.outreach_list").fetchall()}
    assert pid not in listed


@pytest.mark.parametrize("pid", ["00033", "00037", "00043", "00044", "00046"])
def test_near_misses_are_not_suppressed(world, pid):
    con, _ = world
    assert pid not in _reasons(con), PURPOSE[pid]
    (count,) = con.execute(
        "select count(*) from marts.outreach_list where person_id = ?", [pid]
    ).fetchone()
    assert count == 1


def test_care_manager_routing(world):
    con, _ = world
    reasons = _reasons(con)
    assert reasons["00045"] == [("in_care_management", True, "routed_to_care_manager")]
    row = con.execute(
        "select team, care_manager, assignment from marts.outreach_list where person_id = '00045'"
    ).fetchone()
    assert row == ("care_management", "CM9", "care_manager")
    # Deceased with a care manager: listed under both reasons, deceased first, not routed.
    assert reasons["00047"] == [
        ("deceased", True, "suppressed"),
        ("in_care_management", False, "suppressed"),
    ]


def test_suppression_counts_by_primary_reason(world):
    con, stats = world
    assert list(stats["suppression"]["by_primary_reason"]) == list(SUPPRESSION_REASONS)
    assert stats["suppression"]["by_primary_reason"] == {
        "currently_inpatient": 2,
        "deceased": 3,
        "hospice": 3,
        "in_care_management": 1,
        "not_enrolled": 1,
        "opted_out": 1,
        "recently_contacted": 2,
    }
    assert stats["suppression"]["by_reason"]["in_care_management"] == 2
    assert stats["suppression"]["by_outcome"] == {"routed_to_care_manager": 1, "suppressed": 12}
    rows = con.execute("select distinct reason from marts.outreach_suppressed").fetchall()
    reasons = {r for (r,) in rows}
    assert reasons <= set(SUPPRESSION_REASONS)


def test_the_ranked_assigned_list(world):
    con, _ = world
    rows = con.execute(
        "select team, rank, person_id, priority_group, care_manager, assignment, "
        "cast(due_by as varchar) from marts.outreach_list order by team, rank"
    ).fetchall()
    north = [r[1:] for r in rows if r[0] == "north"]
    # Group 1 by due date (00002 and 00044 both due on the as-of date: person id decides), then
    # group 2: complex by score (00050 0.95, 00010 0.90, 00013 0.50), high by score (0.80 tie:
    # 00011 before 00012, then the 0.75s by id), then group 3. Capacity CA 3 + CB 2, dealt
    # round-robin; the rest is over capacity.
    assert [r[1] for r in north] == [
        "00002",
        "00044",
        "00001",
        "00050",
        "00010",
        "00013",
        "00011",
        "00012",
        "00033",
        "00037",
        "00043",
        "00046",
        "00020",
    ]
    assert [r[0] for r in north] == list(range(1, 14))
    assert [r[3] for r in north[:6]] == ["CA", "CB", "CA", "CB", "CA", None]
    assert {r[4] for r in north[5:]} == {"over_capacity"}
    assert north[0][5] == "2026-09-30" and north[2][5] == "2026-10-01"
    south = [r[1:] for r in rows if r[0] == "south"]
    assert south == [(1, "00051", 2, "CC", "coordinator", None)]


def test_injection_values_are_stored_raw_and_neutralised_only_in_the_csv(world):
    con, _ = world
    row = con.execute(
        "select first_name, last_name, phone from marts.outreach_list where person_id = '00050'"
    ).fetchone()
    assert row == (INJECTION_NAME, "\tTabbed", "+15550000050")


def test_recent_contact_days_is_configurable():
    con = duckdb.connect()
    build_world(con)
    stats = build_candidates(con, AS_OF, rules_from_mapping({"recent_contact_days": 10}))
    assert stats["suppression"]["by_primary_reason"]["recently_contacted"] == 0
    stats = build_candidates(con, AS_OF, rules_from_mapping({"recent_contact_days": 31}))
    assert stats["suppression"]["by_primary_reason"]["recently_contacted"] == 3
    con.close()


def test_missing_upstream_marts_get_empty_stand_ins():
    con = duckdb.connect()
    build_world(con, with_marts=False)
    stats = build_candidates(con, AS_OF, RULES)
    assert stats["missing_upstream"] == ["marts.risk_scores", "marts.measure_patient"]
    # Only transitions of care remain, and the warehouse gained no stand-in tables.
    assert stats["candidates_by_priority_group"] == {"1": 3}
    (marts,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name in ('risk_scores', 'measure_patient')"
    ).fetchone()
    assert marts == 0
    build_outreach_list(con, AS_OF, RULES, ROSTER)
    assert con.execute("select count(*) from marts.outreach_list").fetchone()[0] == 3
    con.close()
