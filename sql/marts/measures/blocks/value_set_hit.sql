-- Block value_set_hit: a code of one of the value sets on a dated event within the window:
-- diagnoses, procedures (incl. CPT II and EHR procedures), lab results, fills, encounter types,
-- discharge dispositions, rendering NPIs (marts.measure_code_event).
-- Params: value_sets; window; min_distinct_dates (1: HEDIS "at least two diagnoses on different
-- dates of service" is 2); principal_only (first-listed diagnosis / principal procedure);
-- include_active_problems (an EHR problem-list entry recorded on or before the window's end
-- counts as active: the eCQM "diagnosis that overlaps the measurement period"; core.diagnosis
-- has no resolution date); modifiers (any of the CPT/HCPCS modifiers, e.g. 50 bilateral, LT, RT);
-- pick (latest | earliest: which hit the evidence shows).
-- Output: met = the unit has hits on at least min_distinct_dates dates; quantity = dates found.
with hit as (
    select
        u.unit_id,
        e.event_date,
        e.code,
        e.source
    from {{ unit }} as u
    inner join marts.measure_code_event as e on u.person_id = e.person_id
    inner join marts.measure_value_set as v
        on e.code_system = v.code_system and e.code = v.code
    where
        v.value_set in ({{ value_sets }})
        and (
            e.event_date between {{ window_from }} and {{ window_to }}
            or (
                {{ include_active_problems }}
                and e.is_problem_list
                and coalesce(e.event_date, date '1900-01-01') <= {{ window_to }}
            )
        )
        and (not {{ principal_only }} or e.is_principal)
        and (
            {{ modifiers_empty }}
            or e.modifier_1 in ({{ modifiers }})
            or e.modifier_2 in ({{ modifiers }})
            or e.modifier_3 in ({{ modifiers }})
            or e.modifier_4 in ({{ modifiers }})
            or e.modifier_5 in ({{ modifiers }})
        )
),

per_unit as (
    select
        unit_id,
        count(distinct event_date) as hit_dates
    from hit
    group by unit_id
),

ranked as (
    select
        h.*,
        row_number() over (
            partition by h.unit_id
            order by h.event_date {{ pick_order }} nulls last, h.code
        ) as pick
    from hit as h
)

select
    r.unit_id,
    p.hit_dates >= {{ min_distinct_dates }} as met,
    r.event_date,
    {{ label }} || ' (' || r.code || ')'
    || coalesce(' on ' || cast(r.event_date as varchar), ' on the problem list')
    || case
        when {{ min_distinct_dates }} > 1
            then ', ' || cast(p.hit_dates as varchar) || ' date(s)'
        else ''
    end as evidence,
    cast(p.hit_dates as double) as quantity
from ranked as r
inner join per_unit as p on r.unit_id = p.unit_id
where r.pick = 1
