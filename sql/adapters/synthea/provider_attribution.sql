-- converted.provider_attribution <- converted.eligibility + converted.encounter + encounters.csv:
-- one row per person and enrolled month with an attributable practice.
-- Steps:
--   1. office visits = encounters typed 'office visit' (Synthea's ambulatory, wellness and
--      outpatient classes) at an ORGANIZATION;
--   2. months = every calendar month a person's eligibility covers, up to the month of the
--      export's last encounter (Synthea's plan years run into the future); when spans of two
--      payers share a month, the later span's payer names the month;
--   3. each month is attributed to the practice (ORGANIZATION) with the most office visits in the
--      24 months ending that month (plurality of visits, the usual primary-care attribution rule;
--      24 rather than 12 months so that an adult seen once every year or two stays attributed);
--      ties go to the most recent visit, then the practice name;
--   4. months without any office visit in the window get no row. The attribution is popcare's
--      own, not a payer's, so it fills the custom_attributed_* columns: practice = the
--      organization's name, lob = the month's payer_type. custom_attributed_provider stays empty:
--      it holds an NPI and Synthea clinicians have none.
create or replace table converted.provider_attribution as
with office_visit as (
    select
        e.person_id,
        source.organization as organization_id,
        coalesce(e.facility_name, source.organization) as practice,
        e.encounter_start_date as visit_date
    from converted.encounter as e
    inner join synthea.encounters as source on source.id = e.encounter_id
    where e.encounter_type = 'office visit' and source.organization is not null
),

export_end as (
    select max(encounter_start_date) as last_encounter_date
    from converted.encounter
),

enrolled_month as (
    select
        span.person_id,
        span.payer,
        span.payer_type,
        span.enrollment_start_date,
        cast(unnest(generate_series(
            date_trunc('month', span.enrollment_start_date),
            date_trunc(
                'month',
                least(coalesce(span.enrollment_end_date, last_encounter_date), last_encounter_date)
            ),
            interval 1 month
        )) as date) as month_start
    from converted.eligibility as span
    cross join export_end
    where span.enrollment_start_date <= last_encounter_date
),

month_payer as (
    select *
    from enrolled_month
    qualify row_number() over (
        partition by person_id, month_start order by enrollment_start_date desc
    ) = 1
),

visits_in_window as (
    select
        m.person_id,
        m.month_start,
        m.payer,
        m.payer_type,
        v.organization_id,
        v.practice,
        count(*) as visits,
        max(v.visit_date) as last_visit_date
    from month_payer as m
    inner join office_visit as v
        on v.person_id = m.person_id
        and v.visit_date >= m.month_start - interval 23 month
        and v.visit_date < m.month_start + interval 1 month
    group by all
),

plurality as (
    select *
    from visits_in_window
    qualify row_number() over (
        partition by person_id, month_start
        order by visits desc, last_visit_date desc, practice, organization_id
    ) = 1
)

select
    person_id,
    person_id as patient_id,
    strftime(month_start, '%Y%m') as year_month,
    payer,
    'synthea' as data_source,
    practice as custom_attributed_provider_practice,
    payer_type as custom_attributed_provider_lob
from plurality;
