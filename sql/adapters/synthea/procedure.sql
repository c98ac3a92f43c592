-- converted.procedure <- Synthea procedures.csv (+ encounters.csv): one row per procedure.
-- Steps:
--   1. procedure_id = md5 of the row's identifying fields plus its occurrence number (stable
--      across runs, distinct for identical rows);
--   2. procedure_date = START (DATE in exports before Synthea 3.0), in UTC;
--   3. codes are SNOMED CT (or the system named in SYSTEM by newer exports);
--   4. practitioner_id = the encounter's PROVIDER (procedures.csv names no clinician).
create or replace table converted.procedure as
with procedure_row as (
    select
        p.*,
        row_number() over (
            partition by p.patient, p.encounter, p.code, p.start, p.stop, p.system
            order by p.description
        ) as occurrence
    from synthea.procedures as p
)

select
    md5(concat_ws(
        '|', 'procedure', p.patient, coalesce(p.encounter, ''), p.code,
        coalesce(cast(p.start as varchar), ''), coalesce(cast(p.stop as varchar), ''),
        coalesce(p.system, ''), p.occurrence
    )) as procedure_id,
    p.patient as person_id,
    p.patient as patient_id,
    p.encounter as encounter_id,
    cast(p.start as date) as procedure_date,
    case
        when p.system is null or upper(p.system) like '%SNOMED%' then 'snomed-ct'
        else lower(p.system)
    end as source_code_type,
    p.code as source_code,
    p.description as source_description,
    e.provider as practitioner_id,
    'synthea' as data_source,
    'procedures.csv' as file_name
from procedure_row as p
left join synthea.encounters as e on e.id = p.encounter;
