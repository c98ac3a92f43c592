-- Block paired_tests: a test of the first value sets and a test of the second within
-- max_days_apart days of each other, both in the window.
-- Params: first_value_sets; second_value_sets; window; max_days_apart (4).
-- Rule: HEDIS KED counts a uACR as a quantitative urine albumin test and a urine creatinine test
-- "with service dates four days or less apart".
with test as (
    select
        u.unit_id,
        case when v.value_set in ({{ first_value_sets }}) then 1 else 2 end as part,
        e.event_date,
        e.code
    from {{ unit }} as u
    inner join marts.measure_code_event as e on u.person_id = e.person_id
    inner join marts.measure_value_set as v
        on e.code_system = v.code_system and e.code = v.code
    where
        v.value_set in ({{ first_value_sets }}, {{ second_value_sets }})
        and e.event_date between {{ window_from }} and {{ window_to }}
),

pair as (
    select
        a.unit_id,
        a.event_date as first_date,
        b.event_date as second_date,
        row_number() over (
            partition by a.unit_id order by greatest(a.event_date, b.event_date) desc
        ) as pick
    from test as a
    inner join test as b
        on
            a.unit_id = b.unit_id
            and a.part = 1
            and b.part = 2
            and abs(date_diff('day', a.event_date, b.event_date)) <= {{ max_days_apart }}
)

select
    unit_id,
    true as met,
    greatest(first_date, second_date) as event_date,
    {{ label }} || ' on ' || cast(first_date as varchar) || ' and '
    || cast(second_date as varchar) as evidence,
    cast(null as double) as quantity
from pair
where pick = 1
