-- Block sex: core.person.sex is one of the values (e.g. 'female' for breast cancer screening).
-- Params: values.
select
    u.unit_id,
    true as met,
    cast(null as date) as event_date,
    'sex ' || lower(p.sex) as evidence,
    cast(null as double) as quantity
from {{ unit }} as u
inner join core.person as p on u.person_id = p.person_id
where lower(p.sex) in ({{ values }})
