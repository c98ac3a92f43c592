-- Block death: the person died within the window (core.person.death_date: the earliest credible
-- date from eligibility, the EHR or an "expired" discharge status).
-- Params: window (default: ever through period_end).
-- Rule: HEDIS general guideline, "members who die any time during the measurement period" are a
-- required exclusion; episode measures use a window after the discharge instead.
select
    u.unit_id,
    true as met,
    p.death_date as event_date,
    'died ' || cast(p.death_date as varchar) as evidence,
    cast(null as double) as quantity
from {{ unit }} as u
inner join core.person as p on u.person_id = p.person_id
where p.death_date between {{ window_from }} and {{ window_to }}
