-- marts.readmission_rates <- marts.readmission_index_stays, marts.readmission__stay: observed
-- 30-day unplanned readmission rates of the CMS hospital-wide measure (all payers), overall and
-- by discharge month, discharging facility, payer and age band.
-- Grain: grouping, group_value.
-- Steps:
--   1. index_stay: index stays only (is_index), with the payer type and age band at discharge
--      from readmission__stay.
--   2. one group per grouping: overall ('all'), discharge_month ('YYYY-MM' of the index
--      discharge), facility (the discharging facility's NPI: CMS attributes a transfer chain to
--      the hospital that discharged the patient), payer (payer type at discharge), age_band
--      (0-17, 18-44, 45-64, 65-74, 75-84, 85+, at discharge). Missing values are 'unknown'.
--   3. rate = readmissions / index_stays: the observed (crude) rate. CMS publishes a
--      risk-standardised ratio from hierarchical models; popcare does not risk-adjust here.
create or replace table marts.readmission_rates as
with index_stay as (
    select
        i.stay_id,
        i.facility_npi,
        i.discharge_date,
        i.readmitted_30d,
        s.payer_type,
        s.age_band
    from marts.readmission_index_stays as i
    inner join marts.readmission__stay as s on i.stay_id = s.stay_id
    where i.is_index
),

grouped as (
    select
        'overall' as grouping,
        'all' as group_value,
        readmitted_30d
    from index_stay
    union all
    select
        'discharge_month' as grouping,
        substring(cast(discharge_date as varchar), 1, 7) as group_value,
        readmitted_30d
    from index_stay
    union all
    select
        'facility' as grouping,
        coalesce(facility_npi, 'unknown') as group_value,
        readmitted_30d
    from index_stay
    union all
    select
        'payer' as grouping,
        coalesce(payer_type, 'unknown') as group_value,
        readmitted_30d
    from index_stay
    union all
    select
        'age_band' as grouping,
        coalesce(age_band, 'unknown') as group_value,
        readmitted_30d
    from index_stay
)

select
    grouping,
    group_value,
    count(*) as index_stays,
    cast(sum(case when readmitted_30d then 1 else 0 end) as bigint) as readmissions,
    cast(sum(case when readmitted_30d then 1 else 0 end) as double) / count(*) as rate
from grouped
group by grouping, group_value
order by grouping, group_value;
