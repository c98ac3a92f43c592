-- converted.encounter <- Synthea encounters.csv (+ providers.csv, organizations.csv): one row per
-- encounter.
-- Steps:
--   1. encounter_type from ENCOUNTERCLASS (the table below; a class Synthea adds later -> 'other');
--   2. dates from START/STOP (UTC, as Synthea writes them); length_of_stay = days between them;
--   3. attending provider = PROVIDER and its name; facility_name = the ORGANIZATION's name
--      (Synthea has no NPIs, so facility_npi stays empty);
--   4. primary diagnosis = REASONCODE, a SNOMED CT code, only when the visit targeted a condition;
--   5. charge_amount = TOTAL_CLAIM_COST (the encounter and its line items), paid_amount =
--      PAYER_COVERAGE (what the primary payer paid); Synthea has no allowed amount.
create or replace table converted.encounter as
with encounter_class as (
    select *
    from (
        values
        ('inpatient', 'acute inpatient'),
        ('emergency', 'emergency department'),
        ('ambulatory', 'office visit'),
        ('wellness', 'office visit'),
        ('outpatient', 'office visit'),
        ('urgentcare', 'urgent care'),
        ('virtual', 'telehealth'),
        ('telehealth', 'telehealth'),
        ('snf', 'snf'),
        ('home', 'home health'),
        ('hospice', 'hospice')
    ) as mapping (synthea_class, encounter_type)
)

select
    e.id as encounter_id,
    e.patient as person_id,
    e.patient as patient_id,
    coalesce(encounter_class.encounter_type, 'other') as encounter_type,
    cast(e.start as date) as encounter_start_date,
    cast(e.stop as date) as encounter_end_date,
    date_diff('day', cast(e.start as date), cast(e.stop as date)) as length_of_stay,
    e.provider as attending_provider_id,
    provider.name as attending_provider_name,
    organization.name as facility_name,
    case when e.reasoncode is not null then 'snomed-ct' end as primary_diagnosis_code_type,
    e.reasoncode as primary_diagnosis_code,
    e.reasondescription as primary_diagnosis_description,
    e.payer_coverage as paid_amount,
    e.total_claim_cost as charge_amount,
    'synthea' as data_source,
    'encounters.csv' as file_name
from synthea.encounters as e
left join encounter_class on encounter_class.synthea_class = lower(trim(e.encounterclass))
left join synthea.providers as provider on provider.id = e.provider
left join synthea.organizations as organization on organization.id = e.organization;
