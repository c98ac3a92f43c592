-- core.person <- staging.eligibility, staging.patient, staging.registry, core.medical_claim_final:
-- one row per person known to eligibility or to the EHR's patient table.
-- Steps:
--   1. eligibility_person: per person, each field from the most recent eligibility span that has a
--      value for it (spans ordered: starting on or before $as_of first, then latest end, latest
--      start, then file/row). payer, payer_type and plan come from that most recent span itself,
--      so they describe one coverage; dual_status_code and original_reason_entitlement_code are
--      the most recent known values (a dual code sits on the Medicare span only).
--   2. patient_person: per person, each field from the latest patient row that has it (file/row).
--   3. demographics field by field: eligibility wins over patient when both have a value; patient
--      fills what eligibility lacks (enrolment files are the payer's system of record for who is
--      covered; the EHR often lacks what the payer has and vice versa). sex = eligibility.gender,
--      else patient.sex. phone: eligibility, then patient, then registry.
--   4. death: candidates are eligibility.death_date, patient.death_date and the discharge (else
--      claim end, else claim start) date of a final claim with discharge disposition 20 (expired)
--      or 40/41/42 (expired at home / in a facility / place unknown, hospice claims) - NUBC UB-04
--      patient status codes. A candidate is credible when it is not before the birth date and not
--      after $as_of. death_date = the earliest credible candidate; death_source says where it
--      came from (eligibility before patient before claims on a tie). is_deceased is also true
--      when a death_flag = 1 comes without a credible date.
--   5. preferred_language from the registry (latest enrolment with a value).
--   6. age_as_of: whole years between birth_date and $as_of.
create or replace table core.person as
with eligibility_ordered as (
    select
        *,
        row_number() over (
            partition by person_id
            order by
                case when enrollment_start_date <= $as_of then 0 else 1 end asc,
                enrollment_end_date desc,
                enrollment_start_date desc,
                _source_file desc,
                _row_number desc
        ) as recency
    from staging.eligibility
),

eligibility_field as (
    select
        person_id,
        recency,
        payer,
        payer_type,
        plan,
        first_value(first_name ignore nulls) over person_window as first_name,
        first_value(last_name ignore nulls) over person_window as last_name,
        first_value(gender ignore nulls) over person_window as sex,
        first_value(birth_date ignore nulls) over person_window as birth_date,
        first_value(race ignore nulls) over person_window as race,
        first_value(ethnicity ignore nulls) over person_window as ethnicity,
        first_value(zip_code ignore nulls) over person_window as zip_code,
        first_value(phone ignore nulls) over person_window as phone,
        first_value(dual_status_code ignore nulls) over person_window as dual_status_code,
        first_value(original_reason_entitlement_code ignore nulls) over person_window
            as original_reason_entitlement_code,
        max(death_flag) over (partition by person_id) as death_flag
    from eligibility_ordered
    window person_window as (
        partition by person_id
        order by recency
        rows between unbounded preceding and unbounded following
    )
),

eligibility_person as (
    select *
    from eligibility_field
    where recency = 1
),

patient_ordered as (
    select
        *,
        row_number() over (
            partition by person_id order by _source_file desc, _row_number desc
        ) as recency
    from staging.patient
),

patient_field as (
    select
        person_id,
        recency,
        first_value(first_name ignore nulls) over person_window as first_name,
        first_value(last_name ignore nulls) over person_window as last_name,
        first_value(sex ignore nulls) over person_window as sex,
        first_value(birth_date ignore nulls) over person_window as birth_date,
        first_value(race ignore nulls) over person_window as race,
        first_value(ethnicity ignore nulls) over person_window as ethnicity,
        first_value(zip_code ignore nulls) over person_window as zip_code,
        first_value(phone ignore nulls) over person_window as phone,
        max(death_flag) over (partition by person_id) as death_flag
    from patient_ordered
    window person_window as (
        partition by person_id
        order by recency
        rows between unbounded preceding and unbounded following
    )
),

patient_person as (
    select *
    from patient_field
    where recency = 1
),

registry_field as (
    select
        person_id,
        first_value(preferred_language ignore nulls) over (
            partition by person_id
            order by enrolled_date desc nulls last, _source_file desc, _row_number desc
            rows between unbounded preceding and unbounded following
        ) as preferred_language,
        first_value(phone ignore nulls) over (
            partition by person_id
            order by enrolled_date desc nulls last, _source_file desc, _row_number desc
            rows between unbounded preceding and unbounded following
        ) as phone
    from staging.registry
),

registry_person as (
    select
        person_id,
        max(preferred_language) as preferred_language,
        max(phone) as phone
    from registry_field
    group by person_id
),

person_key as (
    select person_id from eligibility_person
    union
    select person_id from patient_person
),

person_demographics as (
    select
        k.person_id,
        coalesce(e.first_name, p.first_name) as first_name,
        coalesce(e.last_name, p.last_name) as last_name,
        coalesce(e.sex, p.sex) as sex,
        coalesce(e.birth_date, p.birth_date) as birth_date,
        coalesce(e.race, p.race) as race,
        coalesce(e.ethnicity, p.ethnicity) as ethnicity,
        coalesce(e.zip_code, p.zip_code) as zip_code,
        coalesce(e.phone, p.phone, r.phone) as phone,
        r.preferred_language,
        e.payer,
        e.payer_type,
        e.plan,
        e.dual_status_code,
        e.original_reason_entitlement_code,
        coalesce(e.death_flag = 1 or p.death_flag = 1, false) as has_death_flag,
        e.person_id is not null as in_eligibility,
        p.person_id is not null as in_patient,
        r.person_id is not null as in_registry
    from person_key as k
    left join eligibility_person as e on k.person_id = e.person_id
    left join patient_person as p on k.person_id = p.person_id
    left join registry_person as r on k.person_id = r.person_id
),

death_candidate as (
    select
        person_id,
        death_date,
        1 as source_rank,
        'eligibility' as death_source
    from staging.eligibility
    where death_date is not null
    union all
    select
        person_id,
        death_date,
        2 as source_rank,
        'patient' as death_source
    from staging.patient
    where death_date is not null
    union all
    select
        person_id,
        coalesce(discharge_date, claim_end_date, claim_start_date) as death_date,
        3 as source_rank,
        'claim_discharge_status' as death_source
    from core.medical_claim_final
    where discharge_disposition_code in ('20', '40', '41', '42')
),

credible_death as (
    select
        c.person_id,
        c.death_date,
        c.death_source,
        row_number() over (
            partition by c.person_id order by c.death_date asc, c.source_rank asc
        ) as death_order
    from death_candidate as c
    inner join person_demographics as d on c.person_id = d.person_id
    where
        c.death_date <= $as_of
        and (d.birth_date is null or c.death_date >= d.birth_date)
)

select
    d.person_id,
    d.first_name,
    d.last_name,
    d.sex,
    d.birth_date,
    extract(year from $as_of) - extract(year from d.birth_date)
    - case
        when
            extract(month from $as_of) < extract(month from d.birth_date)
            or (
                extract(month from $as_of) = extract(month from d.birth_date)
                and extract(day from $as_of) < extract(day from d.birth_date)
            )
            then 1
        else 0
    end as age_as_of,
    cd.death_date,
    cd.death_source,
    cd.death_date is not null or d.has_death_flag as is_deceased,
    d.race,
    d.ethnicity,
    d.zip_code,
    d.phone,
    d.preferred_language,
    d.payer,
    d.payer_type,
    d.plan,
    d.dual_status_code,
    d.original_reason_entitlement_code,
    d.in_eligibility,
    d.in_patient,
    d.in_registry
from person_demographics as d
left join credible_death as cd on d.person_id = cd.person_id and cd.death_order = 1
order by d.person_id;
