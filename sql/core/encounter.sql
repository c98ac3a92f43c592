-- core.encounter <- core.encounter_link, core.inpatient_stay, core.medical_claim_final,
-- staging.encounter: claims and EHR encounters unified, one row per encounter, typed.
-- Grain: encounter_id ('c:...' claim-derived, 'e:...' EHR-only; a stay's id is its stay_id).
-- encounter_type is one of acute_inpatient, observation, emergency_department, snf, home_health,
-- hospice, office, telehealth, other; the typing and merging rules are in encounter_link.sql.
-- Steps:
--   1. stays: every core.inpatient_stay row is an acute_inpatient encounter (dates, facility,
--      principal diagnosis, disposition from the stay).
--   2. claim facts per claim: facility (facility_npi, else billing_npi for institutional claims),
--      rendering NPI of professional claims, diagnosis_code_1 and its code system (declared
--      ICD-9/ICD-10-CM, else ICD-10-CM from 2015-10-01, the HHS ICD-10 compliance date, else
--      ICD-9-CM), discharge disposition, paid amount.
--   3. other encounters: the linked claims and EHR encounters merged: earliest start, latest end;
--      facility, provider and primary diagnosis from the first claim (institutional first, then
--      start date, then claim_id), else from the EHR encounter; source = 'medical_claim' when any
--      claim is linked, else 'encounter'.
--   4. paid_amount = sum of the final claim lines linked to the encounter (a stay: its claims and
--      the ED and professional claims attached to it); an encounter without claims keeps the EHR
--      amount. ehr_encounter_id = the smallest linked EHR encounter id (NULL if none).
-- No final sort (issue 9): sorting the table cost a tenth to a fifth of building it at 100k
-- patients and held memory at 1M; readers join or filter by person, and the table's row order is
-- not part of its contract.
create or replace table core.encounter as
with claim_fact as (
    select
        claim_id,
        min(case when lower(claim_type) = 'institutional' then 0 else 1 end) as claim_rank,
        coalesce(min(facility_npi), min(case
            when lower(claim_type) = 'institutional' then billing_npi
        end)) as facility_npi,
        min(case when lower(claim_type) = 'professional' then rendering_npi end) as provider_npi,
        max(diagnosis_code_1) as diagnosis_code_1,
        case
            when max(diagnosis_code_type) in ('icd-9-cm', 'icd-10-cm') then max(diagnosis_code_type)
            when min(claim_start_date) >= date '2015-10-01' then 'icd-10-cm'
            else 'icd-9-cm'
        end as diagnosis_code_system,
        max(discharge_disposition_code) as discharge_disposition_code,
        sum(paid_amount) as paid_amount
    from core.medical_claim_final
    group by claim_id
),

link_fact as (
    select
        l.encounter_id,
        l.source,
        l.source_id,
        l.person_id,
        l.encounter_type,
        l.source_encounter_type,
        l.start_date,
        l.end_date,
        l.stay_id,
        c.claim_rank,
        c.facility_npi as claim_facility_npi,
        c.provider_npi as claim_provider_npi,
        c.diagnosis_code_1 as claim_diagnosis_code,
        case when c.diagnosis_code_1 is not null then c.diagnosis_code_system end
            as claim_diagnosis_code_system,
        c.discharge_disposition_code as claim_discharge_disposition_code,
        c.paid_amount as claim_paid_amount,
        e.facility_npi as ehr_facility_npi,
        e.attending_provider_id as ehr_provider_id,
        e.primary_diagnosis_code as ehr_diagnosis_code,
        e.primary_diagnosis_code_type as ehr_diagnosis_code_system,
        e.discharge_disposition_code as ehr_discharge_disposition_code,
        e.paid_amount as ehr_paid_amount
    from core.encounter_link as l
    left join claim_fact as c on l.source = 'medical_claim' and l.source_id = c.claim_id
    left join staging.encounter as e on l.source = 'encounter' and l.source_id = e.encounter_id
),

link_ordered as (
    select
        *,
        first_value(claim_facility_npi ignore nulls) over claim_order as first_facility_npi,
        first_value(claim_provider_npi ignore nulls) over claim_order as first_provider_npi,
        first_value(claim_diagnosis_code ignore nulls) over claim_order as first_diagnosis_code,
        first_value(claim_diagnosis_code_system ignore nulls) over claim_order
            as first_diagnosis_code_system,
        first_value(claim_discharge_disposition_code ignore nulls) over claim_order
            as first_discharge_disposition_code
    from link_fact
    window claim_order as (
        partition by encounter_id
        order by
            case when source = 'medical_claim' then 0 else 1 end,
            claim_rank,
            start_date,
            source_id
        rows between unbounded preceding and unbounded following
    )
),

encounter_rollup as (
    select
        encounter_id,
        min(person_id) as person_id,
        min(encounter_type) as encounter_type,
        case when max(case when source = 'medical_claim' then 1 else 0 end) = 1
            then 'medical_claim'
            else 'encounter'
        end as source,
        min(start_date) as start_date,
        max(end_date) as end_date,
        coalesce(min(first_facility_npi), min(ehr_facility_npi)) as facility_npi,
        coalesce(min(first_provider_npi), min(ehr_provider_id)) as provider_npi,
        coalesce(min(first_diagnosis_code), min(ehr_diagnosis_code)) as primary_diagnosis_code,
        case
            when min(first_diagnosis_code) is not null then min(first_diagnosis_code_system)
            else lower(min(ehr_diagnosis_code_system))
        end as primary_diagnosis_code_system,
        coalesce(min(first_discharge_disposition_code), min(ehr_discharge_disposition_code))
            as discharge_disposition_code,
        count(case when source = 'medical_claim' then 1 end) as claim_count,
        cast(coalesce(sum(claim_paid_amount), sum(ehr_paid_amount)) as decimal(18, 2))
            as paid_amount,
        min(case when source = 'encounter' then source_id end) as ehr_encounter_id,
        min(case when source = 'encounter' then source_encounter_type end)
            as source_encounter_type,
        max(stay_id) as stay_id
    from link_ordered
    group by encounter_id
),

stay_encounter as (
    select
        s.stay_id as encounter_id,
        s.person_id,
        'acute_inpatient' as encounter_type,
        s.source,
        s.admission_date as start_date,
        s.discharge_date as end_date,
        s.facility_npi,
        r.provider_npi,
        coalesce(s.principal_diagnosis_code, r.primary_diagnosis_code) as primary_diagnosis_code,
        case
            when s.principal_diagnosis_code is null then r.primary_diagnosis_code_system
            when s.source = 'medical_claim' then
                case
                    when s.admission_date >= date '2015-10-01' then 'icd-10-cm'
                    else 'icd-9-cm'
                end
            else lower(e.primary_diagnosis_code_type)
        end as primary_diagnosis_code_system,
        s.discharge_disposition_code,
        coalesce(r.claim_count, 0) as claim_count,
        coalesce(
            case when r.claim_count > 0 then r.paid_amount end, s.paid_amount
        ) as paid_amount,
        coalesce(s.ehr_encounter_id, r.ehr_encounter_id) as ehr_encounter_id,
        r.source_encounter_type
    from core.inpatient_stay as s
    left join encounter_rollup as r on s.stay_id = r.encounter_id
    left join staging.encounter as e on s.source = 'encounter' and s.ehr_encounter_id = e.encounter_id
)

select * from stay_encounter
union all
select
    encounter_id,
    person_id,
    encounter_type,
    source,
    start_date,
    end_date,
    facility_npi,
    provider_npi,
    primary_diagnosis_code,
    primary_diagnosis_code_system,
    discharge_disposition_code,
    claim_count,
    paid_amount,
    ehr_encounter_id,
    source_encounter_type
from encounter_rollup
where stay_id is null;
