-- marts.readmission__stay <- core.inpatient_stay, core.encounter, core.enrollment, core.person,
-- marts.readmission__stay_code, ref.readmission_* code lists: every hospital stay with what the
-- readmission rules need to know about it (planned or not, excluded diagnosis, payer, age,
-- enrolment).
-- Grain: stay_id (acute inpatient stays of core.inpatient_stay and observation stays of
-- core.encounter).
-- Steps:
--   1. hospital_stay: acute stays with their transfer chain (core: a transfer is an acute admission
--      the same or next day, CMS HWR) and observation stays (no chain).
--   2. principal diagnosis and its CCS from readmission__stay_code; principal_diagnosis_source
--      says where it came from: 'stay' (the institutional claim's diagnosis_code_1 or the EHR
--      stay's), 'linked_claim' (the stay has none; the first linked claim's, core.encounter rule),
--      'encounter' (observation stays).
--   3. planned (CMS Planned Readmission Algorithm v4.0, as in the 2021 HWR measure):
--      a. always planned: any procedure in an always-planned procedure CCS (64 bone marrow, 105
--         kidney, 176 other organ transplant), or a principal diagnosis in an always-planned
--         diagnosis CCS (45 maintenance chemotherapy/radiotherapy, 254 rehabilitation);
--      b. potentially planned: any procedure in a potentially planned CCS (e.g. 44 CABG, 45 PTCA,
--         152/153 knee/hip arthroplasty, 158 spinal fusion, 211 radiation, 224 chemotherapy) or a
--         potentially planned ICD-10-PCS code, planned only when the principal diagnosis is not
--         acute (acute CCS list, or an acute ICD-10-CM code). A stay without a principal diagnosis
--         cannot be shown acute, so a potentially planned procedure makes it planned.
--   4. has_surgical_procedure: a procedure in a CCS of the HWR Surgery/Gynecology cohort. The HWR
--      "medical treatment of cancer" exclusion applies to principal diagnosis CCS 11-45 without one.
--   5. exclusion_category (HWR index exclusions): cancer_medical_treatment (CCS 11-45, medical),
--      rehabilitation (CCS 254), psychiatric (CCS 650-652, 654-659, 662, 670).
--   6. age_at_discharge (whole years, core.person birth_date) and age_band 0-17, 18-44, 45-64,
--      65-74, 75-84, 85+ ('unknown' without a birth date).
--   7. payer_type at discharge: the core.enrollment span covering the discharge date (Medicare,
--      then commercial, then Medicaid, then others when several cover it: Medicare is primary for
--      duals), else core.person.payer_type (latest coverage), else 'unknown'.
--   8. enrolment: coverage islands per person across payer types (spans merged when they overlap
--      or touch, as core.enrollment merges them within a payer type). has_eligibility = the person
--      has any coverage span; enrolled_through_follow_up = one island covers discharge through
--      discharge + 30 days (HWR), or through the death date when the person died within those 30
--      days (coverage ends at death; the window was observed to its end); enrolled_pcr = that, and
--      in the 365 days before discharge at most one gap of at most 45 days (HEDIS continuous
--      enrolment for PCR).
create or replace table marts.readmission__stay as
with acute_stay as (
    select
        stay_id,
        person_id,
        'acute_inpatient' as stay_type,
        source,
        facility_npi,
        admission_date,
        discharge_date,
        discharge_disposition_code,
        principal_diagnosis_code as stay_principal_diagnosis_code,
        transfer_chain_id,
        transfer_chain_position,
        is_transfer_out
    from core.inpatient_stay
),

observation_stay as (
    select
        encounter_id as stay_id,
        person_id,
        'observation' as stay_type,
        source,
        facility_npi,
        start_date as admission_date,
        coalesce(end_date, start_date) as discharge_date,
        discharge_disposition_code,
        cast(null as varchar) as stay_principal_diagnosis_code,
        cast(null as varchar) as transfer_chain_id,
        cast(null as bigint) as transfer_chain_position,
        false as is_transfer_out
    from core.encounter
    where encounter_type = 'observation'
),

hospital_stay as (
    select * from acute_stay
    union all
    select * from observation_stay
),

encounter_diagnosis as (
    select
        encounter_id,
        primary_diagnosis_code
    from core.encounter
    where encounter_type in ('acute_inpatient', 'observation')
),

always_planned_procedure_ccs as (
    select distinct ccs from ref.readmission_always_planned_procedure_ccs
),

always_planned_diagnosis_ccs as (
    select distinct ccs from ref.readmission_always_planned_diagnosis_ccs
),

potentially_planned_procedure_ccs as (
    select distinct ccs from ref.readmission_potentially_planned_procedure_ccs
),

acute_diagnosis_ccs as (
    select distinct ccs from ref.readmission_acute_diagnosis_ccs
),

surgical_procedure_ccs as (
    select distinct ccs from ref.readmission_surgical_procedure_ccs
),

exclusion_diagnosis_ccs as (
    select
        ccs,
        min(exclusion_category) as exclusion_category
    from ref.readmission_exclusion_diagnosis_ccs
    group by ccs
),

procedure_flag as (
    select
        c.stay_id,
        max(case when ap.ccs is not null then 1 else 0 end) = 1 as has_always_planned_procedure,
        max(case when pp.ccs is not null or c.is_potentially_planned_code then 1 else 0 end) = 1
            as has_potentially_planned_procedure,
        max(case when sp.ccs is not null then 1 else 0 end) = 1 as has_surgical_procedure
    from marts.readmission__stay_code as c
    left join always_planned_procedure_ccs as ap on c.ccs = ap.ccs
    left join potentially_planned_procedure_ccs as pp on c.ccs = pp.ccs
    left join surgical_procedure_ccs as sp on c.ccs = sp.ccs
    where c.code_role = 'procedure'
    group by c.stay_id
),

diagnosis_flag as (
    select
        c.stay_id,
        c.code as principal_diagnosis_code,
        c.ccs as principal_diagnosis_ccs,
        ad.ccs is not null as has_always_planned_diagnosis,
        ac.ccs is not null or c.is_acute_code as is_acute_principal_diagnosis,
        ex.exclusion_category,
        c.pcr_exclusion_reason
    from marts.readmission__stay_code as c
    left join always_planned_diagnosis_ccs as ad on c.ccs = ad.ccs
    left join acute_diagnosis_ccs as ac on c.ccs = ac.ccs
    left join exclusion_diagnosis_ccs as ex on c.ccs = ex.ccs
    where c.code_role = 'principal_diagnosis'
),

stay_flagged as (
    select
        s.*,
        coalesce(d.principal_diagnosis_code, e.primary_diagnosis_code) as principal_diagnosis_code,
        case
            when s.stay_type = 'observation' and e.primary_diagnosis_code is not null
                then 'encounter'
            when s.stay_principal_diagnosis_code is not null then 'stay'
            when e.primary_diagnosis_code is not null then 'linked_claim'
        end as principal_diagnosis_source,
        d.principal_diagnosis_ccs,
        coalesce(p.has_always_planned_procedure, false) as has_always_planned_procedure,
        coalesce(d.has_always_planned_diagnosis, false) as has_always_planned_diagnosis,
        coalesce(p.has_potentially_planned_procedure, false) as has_potentially_planned_procedure,
        coalesce(d.is_acute_principal_diagnosis, false) as is_acute_principal_diagnosis,
        coalesce(p.has_surgical_procedure, false) as has_surgical_procedure,
        d.exclusion_category as diagnosis_exclusion_category,
        d.pcr_exclusion_reason
    from hospital_stay as s
    left join encounter_diagnosis as e on s.stay_id = e.encounter_id
    left join diagnosis_flag as d on s.stay_id = d.stay_id
    left join procedure_flag as p on s.stay_id = p.stay_id
),

stay_planned as (
    select
        *,
        case
            when has_always_planned_procedure then 'always_planned_procedure'
            when has_always_planned_diagnosis then 'always_planned_diagnosis'
            when has_potentially_planned_procedure and not is_acute_principal_diagnosis
                then 'potentially_planned_procedure'
        end as planned_reason,
        case
            when
                diagnosis_exclusion_category = 'cancer_medical_treatment'
                and has_surgical_procedure
                then cast(null as varchar)
            else diagnosis_exclusion_category
        end as exclusion_category
    from stay_flagged
),

coverage_span as (
    select
        person_id,
        payer_type,
        enrollment_start_date as span_start,
        enrollment_end_date as span_end
    from core.enrollment
),

coverage_ordered as (
    select
        *,
        max(span_end) over (
            partition by person_id
            order by span_start, span_end
            rows between unbounded preceding and 1 preceding
        ) as covered_through
    from coverage_span
),

coverage_numbered as (
    select
        *,
        sum(
            case
                when covered_through is null then 1
                when span_start > covered_through + interval 1 day then 1
                else 0
            end
        ) over (
            partition by person_id
            order by span_start, span_end
            rows unbounded preceding
        ) as island_number
    from coverage_ordered
),

coverage_island as (
    select
        person_id,
        island_number,
        min(span_start) as island_start,
        max(span_end) as island_end
    from coverage_numbered
    group by person_id, island_number
),

eligible_person as (
    select distinct person_id from coverage_span
),

follow_up_end as (
    select
        s.stay_id,
        s.person_id,
        s.discharge_date,
        case
            when
                p.death_date >= s.discharge_date
                and p.death_date < s.discharge_date + interval 30 day
                then p.death_date
            else cast(s.discharge_date + interval 30 day as date)
        end as follow_up_end_date
    from stay_planned as s
    left join core.person as p on s.person_id = p.person_id
),

follow_up_coverage as (
    select distinct f.stay_id
    from follow_up_end as f
    inner join coverage_island as c
        on
            f.person_id = c.person_id
            and c.island_start <= f.discharge_date
            and c.island_end >= f.follow_up_end_date
),

prior_year_coverage as (
    select
        s.stay_id,
        count(*) as islands,
        min(c.island_start) as first_island_start,
        sum(
            date_diff(
                'day',
                greatest(c.island_start, cast(s.discharge_date - interval 365 day as date)),
                least(c.island_end, s.discharge_date)
            )
            + 1
        ) as covered_days,
        cast(s.discharge_date - interval 365 day as date) as lookback_start
    from stay_planned as s
    inner join coverage_island as c
        on
            s.person_id = c.person_id
            and c.island_start <= s.discharge_date
            and c.island_end >= s.discharge_date - interval 365 day
    group by s.stay_id, s.discharge_date
),

payer_at_discharge as (
    select
        s.stay_id,
        e.payer_type,
        row_number() over (
            partition by s.stay_id
            order by
                case e.payer_type
                    when 'medicare' then 1
                    when 'commercial' then 2
                    when 'medicaid' then 3
                    else 4
                end,
                e.enrollment_start_date desc,
                e.payer_type
        ) as payer_rank
    from stay_planned as s
    inner join core.enrollment as e
        on
            s.person_id = e.person_id
            and e.enrollment_start_date <= s.discharge_date
            and e.enrollment_end_date >= s.discharge_date
),

stay_person as (
    select
        s.*,
        extract(year from s.discharge_date) - extract(year from p.birth_date)
        - case
            when
                extract(month from s.discharge_date) < extract(month from p.birth_date)
                or (
                    extract(month from s.discharge_date) = extract(month from p.birth_date)
                    and extract(day from s.discharge_date) < extract(day from p.birth_date)
                )
                then 1
            else 0
        end as age_at_discharge,
        coalesce(pd.payer_type, p.payer_type, 'unknown') as payer_type,
        ep.person_id is not null as has_eligibility,
        fc.stay_id is not null as enrolled_through_follow_up,
        pc.islands as prior_year_islands,
        pc.first_island_start,
        pc.lookback_start,
        pc.covered_days as prior_year_covered_days
    from stay_planned as s
    left join core.person as p on s.person_id = p.person_id
    left join payer_at_discharge as pd on s.stay_id = pd.stay_id and pd.payer_rank = 1
    left join eligible_person as ep on s.person_id = ep.person_id
    left join follow_up_coverage as fc on s.stay_id = fc.stay_id
    left join prior_year_coverage as pc on s.stay_id = pc.stay_id
)

select
    stay_id,
    person_id,
    stay_type,
    source,
    facility_npi,
    admission_date,
    discharge_date,
    discharge_disposition_code,
    principal_diagnosis_code,
    principal_diagnosis_source,
    principal_diagnosis_ccs,
    transfer_chain_id,
    transfer_chain_position,
    is_transfer_out,
    has_always_planned_procedure,
    has_always_planned_diagnosis,
    has_potentially_planned_procedure,
    is_acute_principal_diagnosis,
    planned_reason is not null as is_planned,
    planned_reason,
    has_surgical_procedure,
    exclusion_category,
    pcr_exclusion_reason,
    age_at_discharge,
    case
        when age_at_discharge is null then 'unknown'
        when age_at_discharge < 18 then '0-17'
        when age_at_discharge < 45 then '18-44'
        when age_at_discharge < 65 then '45-64'
        when age_at_discharge < 75 then '65-74'
        when age_at_discharge < 85 then '75-84'
        else '85+'
    end as age_band,
    payer_type,
    has_eligibility,
    enrolled_through_follow_up,
    enrolled_through_follow_up
    and coalesce(
        prior_year_islands
        - 1
        + case when first_island_start > lookback_start then 1 else 0 end <= 1
        and 366 - prior_year_covered_days <= 45,
        false
    ) as enrolled_pcr
from stay_person
order by person_id, admission_date, stay_id;
