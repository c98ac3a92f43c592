-- Report: the living population by age band, sex and payer type (persons per category).
-- Steps:
--   1. alive: persons in core.person not recorded as deceased, with the age band of their age on
--      the as-of date (core.person.age_as_of; the bands of marts.readmission_rates).
--   2. one block per dimension, unioned; missing values are 'unknown'.
with alive as (
    select
        coalesce(sex, 'unknown') as sex,
        coalesce(payer_type, 'unknown') as payer_type,
        case
            when age_as_of is null then 'unknown'
            when age_as_of < 18 then '0-17'
            when age_as_of < 45 then '18-44'
            when age_as_of < 65 then '45-64'
            when age_as_of < 75 then '65-74'
            when age_as_of < 85 then '75-84'
            else '85+'
        end as age_band
    from core.person
    where not coalesce(is_deceased, false)
),

by_age_sex as (
    select 'age_sex' as dimension, age_band || '|' || sex as category, count(*) as persons
    from alive
    group by age_band, sex
),

by_sex as (
    select 'sex' as dimension, sex as category, count(*) as persons
    from alive
    group by sex
),

by_payer as (
    select 'payer_type' as dimension, payer_type as category, count(*) as persons
    from alive
    group by payer_type
),

by_age as (
    select 'age_band' as dimension, age_band as category, count(*) as persons
    from alive
    group by age_band
)

select dimension, category, persons from by_age_sex
union all
select dimension, category, persons from by_sex
union all
select dimension, category, persons from by_payer
union all
select dimension, category, persons from by_age
order by dimension, category
