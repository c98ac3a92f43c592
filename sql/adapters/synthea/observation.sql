-- converted.observation <- Synthea observations.csv rows that are not laboratory results: vital
-- signs, surveys (PHQ, GAD, AUDIT-C...), social history, exam findings. One row per value.
-- Steps:
--   1. rows of CATEGORY 'laboratory' go to converted.lab_result instead;
--   2. QALY, DALY and QOLS rows are skipped: they are Synthea's simulation bookkeeping (quality-
--      adjusted life years and quality-of-life scores), not clinical observations, and not LOINC;
--   3. observation_id = md5 of the row's identifying fields plus its occurrence number;
--   4. observation_type = CATEGORY; code type 'loinc' when the code has LOINC's NNNNN-C shape;
--      result = VALUE as text, source_units = UNITS; observation_date = DATE (UTC).
--      Blood pressure arrives as two rows, systolic 8480-6 and diastolic 8462-4.
create or replace table converted.observation as
with observation_row as (
    select
        o.*,
        row_number() over (
            partition by o.patient, o.encounter, o.code, o.date, o.value, o.units
            order by o.description
        ) as occurrence
    from synthea.observations as o
    where lower(trim(o.category)) is distinct from 'laboratory'
        and upper(trim(o.code)) not in ('QALY', 'DALY', 'QOLS')
)

select
    md5(concat_ws(
        '|', 'observation', patient, coalesce(encounter, ''), code,
        coalesce(cast(date as varchar), ''), coalesce(value, ''), coalesce(units, ''), occurrence
    )) as observation_id,
    patient as person_id,
    patient as patient_id,
    encounter as encounter_id,
    cast(date as date) as observation_date,
    lower(trim(category)) as observation_type,
    case when regexp_full_match(code, '[0-9]{1,7}-[0-9]') then 'loinc' end as source_code_type,
    code as source_code,
    description as source_description,
    value as result,
    units as source_units,
    'synthea' as data_source,
    'observations.csv' as file_name
from observation_row;
