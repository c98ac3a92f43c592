-- Block long_term_institutional: an enrolment month in the window flags the person as living long
-- term in an institution (core.member_months.long_term_institutional_flag, the CMS MMR "LTI"
-- flag as carried by the Tuva eligibility table).
-- Params: window.
-- Rule: eCQM/HEDIS exclusion "66 and older living long term in a nursing home" (combine with an
-- age block); the eCQMs read a housing-status assessment, claims read the enrolment flag.
select
    u.unit_id,
    true as met,
    max(m.month_start_date) as event_date,
    'long-term institutional enrolment, latest month ' || max(m.year_month) as evidence,
    cast(count(*) as double) as quantity
from {{ unit }} as u
inner join core.member_months as m on u.person_id = m.person_id
where
    m.long_term_institutional_flag = 1
    and m.month_start_date <= {{ window_to }}
    and cast(m.month_start_date + interval '1' month as date) > {{ window_from }}
group by u.unit_id
