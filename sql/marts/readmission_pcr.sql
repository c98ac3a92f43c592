-- marts.readmission_pcr <- marts.readmission__stay, core.encounter: a HEDIS Plan All-Cause
-- Readmissions (PCR) style observed rate, all payers, by age group.
-- Grain: age_group ('18-64', '65+').
-- Steps (HEDIS PCR as summarised in popcare's reference notes; NCQA's specification and value
-- sets are licensed, so this follows its published structure, not its code lists):
--   1. hospital_stay: acute inpatient stays and observation stays (PCR counts both as index stays
--      and as readmissions).
--   2. index candidates: observation stays and the last stay of each acute transfer chain (a
--      direct transfer is one hospitalisation), age 18+ at discharge, discharged from
--      $period_start through $period_end - 30 days (Jan 1 - Dec 1 of a calendar measurement year),
--      with 30 days of run-out before $as_of.
--   3. index exclusions: died (discharge disposition 20, 40-42), discharged to hospice (50, 51) or
--      any hospice encounter overlapping the measurement period (HEDIS hospice exclusion),
--      principal diagnosis of pregnancy or a perinatal condition, and not continuously enrolled
--      where eligibility is known (365 days before discharge with at most one gap of at most 45
--      days, through 30 days after; readmission__stay.enrolled_pcr).
--   4. readmission: any unplanned acute or observation stay of the person admitted 0-30 days after
--      the index discharge, other than the index stay and its transfer chain. PCR removes planned
--      stays (CMS PRA v4.0 logic, as for HWR) before looking for a readmission, so an unplanned
--      stay after a planned one counts (unlike HWR, which looks at the first readmission only).
--   5. observed_rate = readmissions / index_stays per age group (18-64, 65+ at discharge). The
--      PCR observed-to-expected ratio needs NCQA's licensed risk weights: not computed.
create or replace table marts.readmission_pcr as
with hospital_stay as (
    select * from marts.readmission__stay
),

hospice_person as (
    select distinct person_id
    from core.encounter
    where
        encounter_type = 'hospice'
        and start_date <= $period_end
        and coalesce(end_date, start_date) >= $period_start
),

index_candidate as (
    select *
    from hospital_stay
    where
        (stay_type = 'observation' or not is_transfer_out)
        and age_at_discharge >= 18
        and discharge_date >= $period_start
        and discharge_date <= $period_end - interval 30 day
        and discharge_date + interval 30 day <= $as_of
),

index_stay as (
    select
        c.*,
        case when c.age_at_discharge < 65 then '18-64' else '65+' end as age_group
    from index_candidate as c
    left join hospice_person as h on c.person_id = h.person_id
    where
        coalesce(c.discharge_disposition_code, '') not in ('20', '40', '41', '42', '50', '51')
        and h.person_id is null
        and c.pcr_exclusion_reason is null
        and (not c.has_eligibility or c.enrolled_pcr)
),

readmitted_index as (
    select distinct i.stay_id
    from index_stay as i
    inner join hospital_stay as r
        on
            i.person_id = r.person_id
            and i.stay_id <> r.stay_id
            and coalesce(r.transfer_chain_id, r.stay_id) <> coalesce(i.transfer_chain_id, i.stay_id)
            and r.admission_date >= i.discharge_date
            and r.admission_date <= i.discharge_date + interval 30 day
            and not r.is_planned
),

age_group as (
    select age_group
    from (values ('18-64'), ('65+')) as g (age_group)
),

index_summary as (
    select
        i.age_group,
        count(*) as index_stays,
        count(r.stay_id) as readmissions
    from index_stay as i
    left join readmitted_index as r on i.stay_id = r.stay_id
    group by i.age_group
)

select
    g.age_group,
    coalesce(s.index_stays, 0) as index_stays,
    coalesce(s.readmissions, 0) as readmissions,
    case
        when s.index_stays > 0 then cast(s.readmissions as double) / s.index_stays
    end as observed_rate
from age_group as g
left join index_summary as s on g.age_group = s.age_group
order by g.age_group;
