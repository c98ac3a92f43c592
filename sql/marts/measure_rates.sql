-- marts.measure_rates <- marts.measure_patient, core.person, core.enrollment,
-- staging.provider_attribution: each measure's rate overall and by stratum.
-- Grain: measure_id, period_start, period_end, stratum, stratum_value.
-- Steps:
--   1. strata per row of marts.measure_patient (a person-level attribute, so every unit of a
--      person falls in the person's stratum):
--      - age_band: age in completed years at period end, in the measure's bands (the
--        definition's age_bands, e.g. CMS125v14's 42-51 / 52-74; default 0-17, 18-44, 45-64,
--        65-74, 75+);
--      - sex, race, ethnicity: core.person ('unknown' when missing);
--      - payer: the payer type of the person's latest enrolment span overlapping the period
--        (core.enrollment), else core.person.payer_type;
--      - practice: the attributed practice of the latest attribution month in the period
--        (staging.provider_attribution; popcare's custom attribution, else the payer's; core has
--        no attribution table yet), else 'unattributed'.
--   2. per measure and stratum value: denominator = sum of denominator_weight over the
--      denominator (units; member years for utilisation measures), exclusions = the same over
--      excluded units, numerator = sum of numerator_count over the denominator minus exclusions.
--   3. rate = numerator / (denominator - exclusions) (eCQM performance rate: "numerator /
--      (denominator - denominator exclusions)"), times 1,000 for per-1,000-member-year measures;
--      NULL when nothing is left to divide by. rate_unit and higher_is_better come from the
--      definition (CMS122 is inverse: lower is better).
create or replace table marts.measure_rates as
with measure_meta as (
    select *
    from (
        values {{ measure_meta }}
    ) as m (measure_id, rate_unit, rate_scale, higher_is_better)
),

age_band as (
    select *
    from (
        values {{ age_bands }}
    ) as b (measure_id, band_label, band_min, band_max)
),

person_period as (
    select distinct
        person_id,
        period_start,
        period_end
    from marts.measure_patient
),

payer_span as (
    select
        pp.person_id,
        pp.period_start,
        pp.period_end,
        e.payer_type,
        row_number() over (
            partition by pp.person_id, pp.period_start, pp.period_end
            order by e.enrollment_end_date desc, e.enrollment_start_date desc, e.payer_type
        ) as recency
    from person_period as pp
    inner join core.enrollment as e
        on
            pp.person_id = e.person_id
            and e.enrollment_start_date <= pp.period_end
            and e.enrollment_end_date >= pp.period_start
),

attribution as (
    select
        pp.person_id,
        pp.period_start,
        pp.period_end,
        coalesce(
            nullif(trim(a.custom_attributed_provider_practice), ''),
            nullif(trim(a.payer_attributed_provider_practice), '')
        ) as practice,
        row_number() over (
            partition by pp.person_id, pp.period_start, pp.period_end
            order by a.year_month desc
        ) as recency
    from person_period as pp
    inner join staging.provider_attribution as a
        on
            pp.person_id = a.person_id
            and a.year_month between strftime(pp.period_start, '%Y%m')
            and strftime(pp.period_end, '%Y%m')
    where
        coalesce(
            nullif(trim(a.custom_attributed_provider_practice), ''),
            nullif(trim(a.payer_attributed_provider_practice), '')
        ) is not null
),

person_stratum as (
    select
        pp.person_id,
        pp.period_start,
        pp.period_end,
        extract(year from pp.period_end) - extract(year from p.birth_date)
        - case
            when
                extract(month from pp.period_end) * 100 + extract(day from pp.period_end)
                < extract(month from p.birth_date) * 100 + extract(day from p.birth_date)
                then 1
            else 0
        end as age,
        coalesce(nullif(lower(p.sex), ''), 'unknown') as sex,
        coalesce(nullif(lower(p.race), ''), 'unknown') as race,
        coalesce(nullif(lower(p.ethnicity), ''), 'unknown') as ethnicity,
        coalesce(ps.payer_type, nullif(lower(p.payer_type), ''), 'unknown') as payer,
        coalesce(pa.practice, 'unattributed') as practice
    from person_period as pp
    left join core.person as p on pp.person_id = p.person_id
    left join payer_span as ps
        on
            pp.person_id = ps.person_id
            and pp.period_start = ps.period_start
            and pp.period_end = ps.period_end
            and ps.recency = 1
    left join attribution as pa
        on
            pp.person_id = pa.person_id
            and pp.period_start = pa.period_start
            and pp.period_end = pa.period_end
            and pa.recency = 1
),

unit_stratum as (
    select
        mp.*,
        coalesce(b.band_label, 'unknown') as age_band,
        st.sex,
        st.race,
        st.ethnicity,
        st.payer,
        st.practice
    from marts.measure_patient as mp
    inner join person_stratum as st
        on
            mp.person_id = st.person_id
            and mp.period_start = st.period_start
            and mp.period_end = st.period_end
    left join age_band as b
        on mp.measure_id = b.measure_id and st.age between b.band_min and b.band_max
),

stratified as (
    select
        *,
        'overall' as stratum,
        'all' as stratum_value
    from unit_stratum
    union all
    select
        *,
        'age_band' as stratum,
        age_band as stratum_value
    from unit_stratum
    union all
    select
        *,
        'sex' as stratum,
        sex as stratum_value
    from unit_stratum
    union all
    select
        *,
        'race' as stratum,
        race as stratum_value
    from unit_stratum
    union all
    select
        *,
        'ethnicity' as stratum,
        ethnicity as stratum_value
    from unit_stratum
    union all
    select
        *,
        'payer' as stratum,
        payer as stratum_value
    from unit_stratum
    union all
    select
        *,
        'practice' as stratum,
        practice as stratum_value
    from unit_stratum
),

summed as (
    select
        measure_id,
        period_start,
        period_end,
        stratum,
        stratum_value,
        sum(case when in_denominator then denominator_weight else 0 end) as denominator,
        sum(case when excluded then denominator_weight else 0 end) as exclusions,
        sum(case when in_numerator then numerator_count else 0 end) as numerator
    from stratified
    group by measure_id, period_start, period_end, stratum, stratum_value
)

select
    s.measure_id,
    s.period_start,
    s.period_end,
    s.stratum,
    s.stratum_value,
    round(s.denominator, 2) as denominator,
    round(s.exclusions, 2) as exclusions,
    round(s.numerator, 2) as numerator,
    case
        when s.denominator - s.exclusions > 0
            then round(s.numerator / (s.denominator - s.exclusions) * m.rate_scale, 4)
    end as rate,
    m.rate_unit,
    m.higher_is_better
from summed as s
inner join measure_meta as m on s.measure_id = m.measure_id
order by s.measure_id, s.stratum, s.stratum_value;
