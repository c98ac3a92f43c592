-- Block most_recent_lab: the most recent result in the window of a lab test (LOINC value sets,
-- core.lab) or of a claims result code (coded_results: a CPT II code standing for a value, e.g.
-- 3046F "HbA1c > 9.0%"), judged against a threshold.
-- Params: value_sets (LOINC); window; op ('>' or '<') and threshold; coded_results (value set,
-- value, comparator); or_missing (a unit without any result meets the criterion: the inverse
-- CMS122 numerator counts "most recent HbA1c > 9% or missing"); unit_label (shown for coded
-- results, e.g. '%').
-- Rules:
--   1. most recent = latest date; several results on that date: the lowest value counts (HEDIS
--      GSD: "if multiple tests on the same date, use the lowest result").
--   2. comparators (core.lab.value_comparator): '>9' is above 9; '>=9' is not above 9; '<9' and
--      '<=9' are never above 9 (and mirrored for op '<').
with result as (
    select
        u.unit_id,
        l.lab_date as result_date,
        l.value_numeric as result_value,
        l.value_comparator as comparator,
        l.unit as result_unit,
        l.loinc as code
    from {{ unit }} as u
    inner join core.lab as l on u.person_id = l.person_id
    inner join marts.measure_value_set as v on v.code_system = 'loinc' and l.loinc = v.code
    where
        v.value_set in ({{ value_sets }})
        and l.value_numeric is not null
        and l.lab_date between {{ window_from }} and {{ window_to }}

    union all

    select
        u.unit_id,
        e.event_date as result_date,
        c.result_value,
        c.comparator,
        cast(null as varchar) as result_unit,
        e.code
    from {{ unit }} as u
    inner join marts.measure_code_event as e on u.person_id = e.person_id
    inner join marts.measure_value_set as v
        on e.code_system = v.code_system and e.code = v.code
    inner join (
        values {{ coded_results }}
    ) as c (value_set, result_value, comparator) on v.value_set = c.value_set
    where e.event_date between {{ window_from }} and {{ window_to }}
),

ranked as (
    select
        r.*,
        row_number() over (
            partition by r.unit_id
            order by
                r.result_date desc,
                r.result_value asc,
                case r.comparator
                    when '<' then 0 when '<=' then 1 when '>=' then 3 when '>' then 4 else 2
                end,
                r.code
        ) as pick
    from result as r
),

judged as (
    select
        *,
        case
            when '{{ op }}' = '>'
                then
                    case
                        when comparator is null or comparator = '=' then result_value > {{ threshold }}
                        when comparator = '>' then result_value >= {{ threshold }}
                        when comparator = '>=' then result_value > {{ threshold }}
                        else false
                    end
            else
                case
                    when comparator is null or comparator = '=' then result_value < {{ threshold }}
                    when comparator = '<' then result_value <= {{ threshold }}
                    when comparator = '<=' then result_value < {{ threshold }}
                    else false
                end
        end as meets
    from ranked
    where pick = 1
)

select
    unit_id,
    meets as met,
    result_date as event_date,
    {{ label }} || ' ' || coalesce(comparator, '') || cast(result_value as varchar)
    || coalesce(result_unit, {{ unit_label }}) || ' (' || code || ') on '
    || cast(result_date as varchar) as evidence,
    result_value as quantity
from judged

union all

select
    u.unit_id,
    true as met,
    cast(null as date) as event_date,
    {{ missing }} as evidence,
    cast(null as double) as quantity
from {{ unit }} as u
where
    {{ or_missing }}
    and not exists (select 1 from result as r where r.unit_id = u.unit_id)
