-- Block member_years: enrolled months in the window (to the as-of date) / 12, the denominator
-- weight of utilisation measures ("per 1,000 member years", HEDIS EDU / AMB).
-- Params: window.
-- Rule: a month counts when the person was enrolled on any day of it (core.member_months, the
-- CMS enrolment-month convention).
select
    u.unit_id,
    true as met,
    max(m.month_start_date) as event_date,
    cast(count(*) as varchar) || ' enrolled months' as evidence,
    count(*) / 12.0 as quantity
from {{ unit }} as u
inner join core.member_months as m on u.person_id = m.person_id
where
    m.month_start_date <= least({{ window_to }}, cast($as_of as date))
    and cast(m.month_start_date + interval '1' month as date) > {{ window_from }}
group by u.unit_id
