-- {{ schema }}.risk__registry <- {{ schema }}.risk__population, staging.registry: social needs
-- and care-programme enrolment at each scoring date.
-- Grain: person_id, scoring_date (every population row).
-- The registry has no core table yet; this reads the typed, validated staging table.
-- Steps:
--   1. social needs (housing instability, food insecurity, transportation barrier): true when any
--      of the person's registry rows says true, false when rows say false and none true, null when
--      never screened. Rows of a programme enrolment that starts after the scoring date are not
--      read (an enrolment after the cutoff is a later event). Otherwise the contract carries no
--      screening date, so the flags are treated as standing attributes of the person: the one
--      input the risk model cannot date (docs/risk-model.md).
--   2. programme enrolment at the scoring date: enrolled on or before it and not disenrolled on or
--      before it; one column per known programme (complex_care, diabetes_management,
--      transitions_of_care) and program_any for any programme, named or not.
create or replace table {{ schema }}.risk__registry as
with social_need as (
    select
        p.person_id,
        p.scoring_date,
        max(case when r.housing_instability then 1 when not r.housing_instability then 0 end)
            as sdoh_housing,
        max(case when r.food_insecurity then 1 when not r.food_insecurity then 0 end)
            as sdoh_food,
        max(
            case when r.transportation_barrier then 1 when not r.transportation_barrier then 0 end
        ) as sdoh_transport
    from {{ schema }}.risk__population as p
    inner join staging.registry as r
        on
            p.person_id = r.person_id
            and (r.enrolled_date is null or r.enrolled_date <= p.scoring_date)
    group by p.person_id, p.scoring_date
),

programme as (
    select
        p.person_id,
        p.scoring_date,
        max(case when r.program = 'complex_care' then 1 else 0 end) as program_complex_care,
        max(case when r.program = 'diabetes_management' then 1 else 0 end)
            as program_diabetes_management,
        max(case when r.program = 'transitions_of_care' then 1 else 0 end)
            as program_transitions_of_care,
        1 as program_any
    from {{ schema }}.risk__population as p
    inner join staging.registry as r
        on
            p.person_id = r.person_id
            and r.program is not null
            and r.enrolled_date <= p.scoring_date
            and (r.disenrolled_date is null or r.disenrolled_date > p.scoring_date)
    group by p.person_id, p.scoring_date
)

select
    p.person_id,
    p.scoring_date,
    s.sdoh_housing,
    s.sdoh_food,
    s.sdoh_transport,
    coalesce(pr.program_complex_care, 0) as program_complex_care,
    coalesce(pr.program_diabetes_management, 0) as program_diabetes_management,
    coalesce(pr.program_transitions_of_care, 0) as program_transitions_of_care,
    coalesce(pr.program_any, 0) as program_any
from {{ schema }}.risk__population as p
left join social_need as s on p.person_id = s.person_id and p.scoring_date = s.scoring_date
left join programme as pr on p.person_id = pr.person_id and p.scoring_date = pr.scoring_date;
