-- Block age: the person is between min and max whole years old on a date.
-- Params: min, max (inclusive), at (date expression, default period_end).
-- Rule: age in completed years on the date (eCQM "years of age at end of the measurement period";
-- HEDIS "as of December 31 of the measurement year"; FUH "as of the date of discharge").
-- Output (every block): unit_id, met, event_date, evidence, quantity; at most one row per unit.
select
    a.unit_id,
    true as met,
    cast(null as date) as event_date,
    'age ' || cast(a.age as varchar) || ' on ' || cast(a.at_date as varchar) as evidence,
    cast(a.age as double) as quantity
from (
    select
        u.unit_id,
        cast({{ at }} as date) as at_date,
        extract(year from cast({{ at }} as date)) - extract(year from p.birth_date)
        - case
            when
                extract(month from cast({{ at }} as date)) * 100
                + extract(day from cast({{ at }} as date))
                < extract(month from p.birth_date) * 100 + extract(day from p.birth_date)
                then 1
            else 0
        end as age
    from {{ unit }} as u
    inner join core.person as p on u.person_id = p.person_id
    where p.birth_date is not null
) as a
where a.age between {{ min }} and {{ max }}
