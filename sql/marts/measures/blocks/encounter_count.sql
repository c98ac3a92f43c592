-- Block encounter_count: how many encounters of the types the unit had in the window (counted up
-- to the as-of date), leaving out encounters whose primary diagnosis is in the excluded value
-- sets.
-- Params: encounter_types; window; exclude_principal_value_sets.
-- Rule: HEDIS EDU counts ED visits that do not result in an inpatient stay (core.encounter already
-- folds an ED visit that leads to an admission into the stay) and leaves out visits for mental
-- health or chemical dependency.
-- Output: met = at least one; quantity = the count.
with visit as (
    select
        u.unit_id,
        e.encounter_id,
        e.start_date
    from {{ unit }} as u
    inner join core.encounter as e on u.person_id = e.person_id
    where
        e.encounter_type in ({{ encounter_types }})
        and e.start_date between {{ window_from }} and {{ window_to }}
        and e.start_date <= cast($as_of as date)
        and not exists (
            select 1
            from marts.measure_value_set as s
            where
                s.value_set in ({{ exclude_principal_value_sets }})
                and s.code_system = 'icd-10-cm'
                and s.code = e.primary_diagnosis_code
        )
)

select
    unit_id,
    true as met,
    max(start_date) as event_date,
    cast(count(*) as varchar) || ' ' || {{ label }} || ', latest '
    || cast(max(start_date) as varchar) as evidence,
    cast(count(*) as double) as quantity
from visit
group by unit_id
