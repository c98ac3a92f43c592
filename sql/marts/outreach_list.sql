-- marts.outreach_list <- outreach_list_rows (registered by pipelines/outreach.py from
-- marts.outreach_candidates and marts.outreach_suppressed via outreach_list_input.sql): the
-- ranked, assigned outreach list of the as-of date, one row per person.
-- Grain: person_id (each person is on exactly one team's list).
-- Steps (the rules live in pipelines/outreach.py, docs/outreach.md):
--   1. ranking: priority group 1 (transition of care) by due date, tier, score; group 2 (tier
--      complex, then high) by score; group 3 (rising tier with a gap that can be closed now) by
--      score; ties on person_id. rank counts 1.. within each team's list.
--   2. assignment: the registry care manager's patients go to the care-management list; everyone
--      else to the team of the attributed practice (else the default team), dealt round-robin in
--      rank order to the team's coordinators up to each one's capacity; the rest is over capacity
--      (assignment = 'over_capacity', care_manager empty).
--   3. typed columns in the CSV's order, then the bookkeeping columns.
create or replace table marts.outreach_list as
select
    cast(team as varchar) as team,
    cast(rank as integer) as rank,
    cast(priority_group as integer) as priority_group,
    cast(person_id as varchar) as person_id,
    cast(first_name as varchar) as first_name,
    cast(last_name as varchar) as last_name,
    cast(birth_date as date) as birth_date,
    cast(phone as varchar) as phone,
    cast(preferred_language as varchar) as preferred_language,
    cast(preferred_contact as varchar) as preferred_contact,
    cast(payer as varchar) as payer,
    cast(attributed_practice as varchar) as attributed_practice,
    cast(care_manager as varchar) as care_manager,
    cast(risk_tier as varchar) as risk_tier,
    cast(risk_score as double) as risk_score,
    cast(reasons as varchar) as reasons,
    cast(open_gaps as varchar) as open_gaps,
    cast(last_discharge_date as date) as last_discharge_date,
    cast(last_discharge_facility as varchar) as last_discharge_facility,
    cast(due_by as date) as due_by,
    cast(suggested_action as varchar) as suggested_action,
    cast(assignment as varchar) as assignment,
    cast(model_version as varchar) as model_version,
    cast(as_of_date as date) as as_of_date
from outreach_list_rows
order by team, rank;
