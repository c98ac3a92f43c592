-- converted.condition <- Synthea conditions.csv: one row per condition episode.
-- Steps:
--   1. condition_id = md5 of the row's identifying fields plus its occurrence number, so the same
--      export always gives the same ids and identical rows still get distinct ones;
--   2. onset_date and recorded_date = START (Synthea records a condition when it starts),
--      resolved_date = STOP; status 'resolved' with a STOP, else 'active';
--   3. codes are SNOMED CT (newer exports name the system in SYSTEM; ICD-10 is mapped too);
--      condition_type 'problem': Synthea's conditions are the problem list, findings included.
create or replace table converted.condition as
with condition_row as (
    select
        c.*,
        row_number() over (
            partition by c.patient, c.encounter, c.code, c.start, c.stop, c.system
            order by c.description
        ) as occurrence
    from synthea.conditions as c
)

select
    md5(concat_ws(
        '|', 'condition', patient, coalesce(encounter, ''), code,
        coalesce(cast(start as varchar), ''), coalesce(cast(stop as varchar), ''),
        coalesce(system, ''), occurrence
    )) as condition_id,
    patient as person_id,
    patient as patient_id,
    encounter as encounter_id,
    start as recorded_date,
    start as onset_date,
    stop as resolved_date,
    case when stop is null then 'active' else 'resolved' end as status,
    'problem' as condition_type,
    case
        when system is null or upper(system) like '%SNOMED%' then 'snomed-ct'
        when upper(system) like '%ICD-10%' or upper(system) like '%ICD10%' then 'icd-10-cm'
        else lower(system)
    end as source_code_type,
    code as source_code,
    description as source_description,
    'synthea' as data_source,
    'conditions.csv' as file_name
from condition_row;
