-- marts.readmission_index_stays <- marts.readmission__stay: every acute inpatient stay, whether it
-- is an index stay of the CMS hospital-wide readmission measure (adapted to all payers) and, if so,
-- whether it was followed by an unplanned readmission within 30 days.
-- Grain: stay_id (one row per acute inpatient stay of core.inpatient_stay).
-- Steps (CMS HWR methodology report, 2021; Planned Readmission Algorithm v4.0):
--   1. acute_stay: acute inpatient stays only (HWR is an inpatient measure; observation stays
--      belong to the PCR-style table).
--   2. same-day merge: a stay followed by an admission to the same facility on its discharge day
--      for the same condition (same principal-diagnosis CCS; the same code when either is not
--      classified) is one admission with it: the later stay is the candidate index, the earlier
--      one is not counted, and the later one is not its readmission.
--   3. exclusion_reason, the first that applies (index stay when none):
--      transfer_out                         the stay ends in a transfer to another acute hospital
--                                           (core transfer chains; the last stay of a chain is the
--                                           candidate index, CMS HWR)
--      same_day_same_condition_readmission  merged into the next stay (step 2)
--      died_in_hospital                     discharge disposition 20 (or 40-42, expired, NUBC)
--      against_medical_advice               discharge disposition 07
--      cancer_medical_treatment             principal diagnosis CCS 11-45 without a surgical
--                                           cohort procedure
--      rehabilitation                       principal diagnosis CCS 254
--      psychiatric                          principal diagnosis CCS 650-652, 654-659, 662, 670
--      follow_up_under_30_days              discharge + 30 days is after $as_of
--      not_enrolled_through_follow_up       the person has coverage spans but none covers the
--                                           discharge date through discharge + 30 days (an
--                                           EHR-only person, without eligibility, is not excluded)
--   4. readmission: the first acute admission of the person 0-30 days after the index discharge
--      (any facility; day 0 can only be a same-facility admission for another condition, since a
--      same-day admission elsewhere is a transfer and a same-condition one is merged). Only that
--      first readmission counts (CMS): readmitted_30d when it is unplanned; a planned first
--      readmission means not readmitted, even if an unplanned one follows. A readmission is a stay
--      like any other and can itself be an index stay.
--   5. readmission_stay_id, days_to_readmission, readmission_planned describe that first
--      readmission (planned or not); all readmission columns are null on stays that are not index
--      stays.
create or replace table marts.readmission_index_stays as
with acute_stay as (
    select
        *,
        coalesce(cast(principal_diagnosis_ccs as varchar), principal_diagnosis_code)
            as condition_key
    from marts.readmission__stay
    where stay_type = 'acute_inpatient'
),

stay_sequence as (
    select
        *,
        lead(admission_date) over person_order as next_admission_date,
        lead(facility_npi) over person_order as next_facility_npi,
        lead(condition_key) over person_order as next_condition_key
    from acute_stay
    window person_order as (partition by person_id order by admission_date, discharge_date, stay_id)
),

stay_excluded as (
    select
        *,
        case
            when is_transfer_out then 'transfer_out'
            when
                next_admission_date = discharge_date
                and next_facility_npi = facility_npi
                and next_condition_key = condition_key
                then 'same_day_same_condition_readmission'
            when discharge_disposition_code in ('20', '40', '41', '42') then 'died_in_hospital'
            when discharge_disposition_code = '07' then 'against_medical_advice'
            when exclusion_category is not null then exclusion_category
            when discharge_date + interval 30 day > $as_of then 'follow_up_under_30_days'
            when has_eligibility and not enrolled_through_follow_up
                then 'not_enrolled_through_follow_up'
        end as exclusion_reason
    from stay_sequence
),

index_stay as (
    select * from stay_excluded where exclusion_reason is null
),

readmission_candidate as (
    select
        i.stay_id as index_stay_id,
        r.stay_id as readmission_stay_id,
        r.is_planned as readmission_planned,
        date_diff('day', i.discharge_date, r.admission_date) as days_to_readmission,
        row_number() over (
            partition by i.stay_id
            order by r.admission_date, r.discharge_date, r.stay_id
        ) as readmission_order
    from index_stay as i
    inner join acute_stay as r
        on
            i.person_id = r.person_id
            and i.stay_id <> r.stay_id
            and r.transfer_chain_id <> i.transfer_chain_id
            and r.admission_date >= i.discharge_date
            and r.admission_date <= i.discharge_date + interval 30 day
),

first_readmission as (
    select * from readmission_candidate where readmission_order = 1
)

select
    s.person_id,
    s.stay_id,
    s.facility_npi,
    s.admission_date,
    s.discharge_date,
    s.discharge_disposition_code,
    s.exclusion_reason is null as is_index,
    s.exclusion_reason,
    case
        when s.exclusion_reason is not null then cast(null as boolean)
        else coalesce(not r.readmission_planned, false)
    end as readmitted_30d,
    r.readmission_stay_id,
    r.days_to_readmission,
    r.readmission_planned
from stay_excluded as s
left join first_readmission as r on s.stay_id = r.index_stay_id
order by s.person_id, s.admission_date, s.stay_id;
