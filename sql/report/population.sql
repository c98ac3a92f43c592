-- Report: population headline numbers as of the run date. Counts only, never a person.
-- Steps:
--   1. person_count: everyone in core.person, and those alive (not recorded as deceased).
--   2. month_count: enrolled member-months (core.member_months, one row per person and month
--      enrolled) in the 12 calendar months ending with the as-of month and in all history, and
--      the persons enrolled in the as-of month.
with person_count as (
    select
        count(*) as persons,
        count(*) filter (where not coalesce(is_deceased, false)) as persons_alive,
        count(*) filter (where coalesce(is_deceased, false)) as persons_deceased
    from core.person
),

month_count as (
    select
        count(*) filter (
            where month_start_date > cast(date_trunc('month', $as_of) - interval 12 month as date)
            and month_start_date <= $as_of
        ) as member_months_12m,
        count(*) filter (where month_start_date <= $as_of) as member_months_total,
        count(distinct person_id) filter (
            where month_start_date = cast(date_trunc('month', $as_of) as date)
        ) as enrolled_as_of_month
    from core.member_months
)

select
    p.persons,
    p.persons_alive,
    p.persons_deceased,
    m.member_months_12m,
    m.member_months_total,
    m.enrolled_as_of_month
from person_count as p
cross join month_count as m
