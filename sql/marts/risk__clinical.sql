-- {{ schema }}.risk__clinical <- {{ schema }}.risk__population, core.lab, core.procedure,
-- core.vital: the last HbA1c and blood pressure in the 12 months up to each scoring date and
-- whether they were controlled.
-- Grain: person_id, scoring_date (every population row).
-- Steps:
--   1. HbA1c results: core.lab analyte 'hba1c' with a numeric value, in % (NGSP); results in
--      mmol/mol (IFCC) converted with the IFCC-NGSP master equation % = 0.09148 x IFCC + 2.152;
--      plus CPT II result codes on claims (CMS122: 3044F < 7%, 3051F 7-8%, 3052F 8-9%,
--      3046F > 9%), which carry a band but no value.
--   2. the last HbA1c (latest date; on a tie a lab value wins over a band) sets hba1c_date,
--      hba1c_controlled (< 8%, the HEDIS GSD control threshold) and hba1c_poor (> 9%, CMS122);
--      a value stored with comparator '>'/'>=' is a lower bound (core keeps '>9' as 9 with '>'),
--      so '>9' is poor and never controlled. hba1c_value / hba1c_value_date = the latest numeric
--      value (for reasons such as "HbA1c 10.2% on 2025-03-04").
--   3. blood pressure: the latest date with a reading (EHR vitals or CPT II bands, CMS165); on
--      that date the lowest systolic and the lowest diastolic (CMS165 rule). Controlled = systolic
--      < 140 and diastolic < 90; bands: 3074F/3075F (< 130, 130-139) and 3078F/3079F (< 80, 80-89)
--      are below the threshold, 3077F (>= 140) and 3080F (>= 90) above. Unknown (null) when the
--      date has only one of the two.
create or replace table {{ schema }}.risk__clinical as
with hba1c_result as (
    select
        p.person_id,
        p.scoring_date,
        l.lab_date as result_date,
        0 as source_rank,
        case
            when l.unit = 'mmol/mol' then round(0.09148 * l.value_numeric + 2.152, 1)
            else l.value_numeric
        end as value_percent,
        coalesce(l.value_comparator in ('>', '>='), false) as is_lower_bound,
        coalesce(l.value_comparator in ('<', '<='), false) as is_upper_bound
    from {{ schema }}.risk__population as p
    inner join core.lab as l
        on
            p.person_id = l.person_id
            and l.analyte = 'hba1c'
            and l.value_numeric is not null
            and (l.unit is null or l.unit in ('%', 'mmol/mol'))
            and l.lab_date > p.window_12m_start
            and l.lab_date <= p.scoring_date
),

hba1c_band as (
    select
        p.person_id,
        p.scoring_date,
        x.procedure_date as result_date,
        1 as source_rank,
        case x.code
            when '3044F' then 6.9
            when '3051F' then 7.5
            when '3052F' then 8.5
            when '3046F' then 9.0
        end as value_percent,
        x.code = '3046F' as is_lower_bound,
        x.code = '3044F' as is_upper_bound
    from {{ schema }}.risk__population as p
    inner join core.procedure as x
        on
            p.person_id = x.person_id
            and x.code in ('3044F', '3051F', '3052F', '3046F')
            and x.procedure_date > p.window_12m_start
            and x.procedure_date <= p.scoring_date
),

hba1c_any as (
    select *, true as has_value from hba1c_result
    union all
    select *, false as has_value from hba1c_band
),

hba1c_last as (
    select
        person_id,
        scoring_date,
        result_date,
        case
            when is_lower_bound then false
            else value_percent < 8
        end as controlled,
        value_percent > 9 or (is_lower_bound and value_percent >= 9) as poor,
        row_number() over (
            partition by person_id, scoring_date order by result_date desc, source_rank asc,
            value_percent desc
        ) as recency
    from hba1c_any
),

hba1c_value_last as (
    select
        person_id,
        scoring_date,
        result_date,
        value_percent,
        row_number() over (
            partition by person_id, scoring_date order by result_date desc, value_percent desc
        ) as recency
    from hba1c_result
),

bp_reading as (
    select
        p.person_id,
        p.scoring_date,
        v.vital_date,
        min(case when v.kind = 'systolic_bp' then v.value_numeric end) as systolic,
        min(case when v.kind = 'diastolic_bp' then v.value_numeric end) as diastolic,
        max(
            case
                when v.kind = 'systolic_bp_band' and v.band_label in ('<130', '130-139') then 1
                when v.kind = 'systolic_bp_band' and v.band_label = '>=140' then 0
            end
        ) as systolic_band_below,
        max(
            case
                when v.kind = 'diastolic_bp_band' and v.band_label in ('<80', '80-89') then 1
                when v.kind = 'diastolic_bp_band' and v.band_label = '>=90' then 0
            end
        ) as diastolic_band_below
    from {{ schema }}.risk__population as p
    inner join core.vital as v
        on
            p.person_id = v.person_id
            and v.kind in ('systolic_bp', 'diastolic_bp', 'systolic_bp_band', 'diastolic_bp_band')
            and v.vital_date > p.window_12m_start
            and v.vital_date <= p.scoring_date
    group by p.person_id, p.scoring_date, v.vital_date
),

bp_last as (
    select
        *,
        case
            when systolic < 140 or systolic_band_below = 1 then true
            when systolic is not null or systolic_band_below = 0 then false
        end as systolic_below,
        case
            when diastolic < 90 or diastolic_band_below = 1 then true
            when diastolic is not null or diastolic_band_below = 0 then false
        end as diastolic_below,
        row_number() over (partition by person_id, scoring_date order by vital_date desc)
            as recency
    from bp_reading
)

select
    p.person_id,
    p.scoring_date,
    h.result_date as hba1c_date,
    h.controlled as hba1c_controlled,
    h.poor as hba1c_poor,
    hv.value_percent as hba1c_value,
    hv.result_date as hba1c_value_date,
    b.vital_date as bp_date,
    b.systolic as systolic_bp,
    b.diastolic as diastolic_bp,
    case
        when b.systolic_below and b.diastolic_below then true
        when b.systolic_below = false or b.diastolic_below = false then false
    end as bp_controlled
from {{ schema }}.risk__population as p
left join hba1c_last as h
    on p.person_id = h.person_id and p.scoring_date = h.scoring_date and h.recency = 1
left join hba1c_value_last as hv
    on p.person_id = hv.person_id and p.scoring_date = hv.scoring_date and hv.recency = 1
left join bp_last as b
    on p.person_id = b.person_id and p.scoring_date = b.scoring_date and b.recency = 1;
