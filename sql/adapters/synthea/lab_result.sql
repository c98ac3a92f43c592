-- converted.lab_result <- Synthea observations.csv rows of CATEGORY 'laboratory': one row per
-- result.
-- Steps:
--   1. lab_result_id = md5 of the row's identifying fields plus its occurrence number;
--   2. Synthea codes each result (not the order) in LOINC: the code goes to source_component_code,
--      the order/panel columns stay empty;
--   3. result = VALUE as text (numbers and coded answers such as 'Negative (qualifier value)'),
--      source_units = UNITS; result and collection time = DATE (UTC);
--   4. status 'final': Synthea exports completed results only. Reference ranges and abnormal
--      flags do not exist in Synthea.
create or replace table converted.lab_result as
with lab_row as (
    select
        o.*,
        row_number() over (
            partition by o.patient, o.encounter, o.code, o.date, o.value, o.units
            order by o.description
        ) as occurrence
    from synthea.observations as o
    where lower(trim(o.category)) = 'laboratory'
)

select
    md5(concat_ws(
        '|', 'lab_result', patient, coalesce(encounter, ''), code,
        coalesce(cast(date as varchar), ''), coalesce(value, ''), coalesce(units, ''), occurrence
    )) as lab_result_id,
    patient as person_id,
    patient as patient_id,
    encounter as encounter_id,
    case when regexp_full_match(code, '[0-9]{1,7}-[0-9]') then 'loinc' end
        as source_component_type,
    code as source_component_code,
    description as source_component_description,
    'final' as status,
    value as result,
    date as result_datetime,
    date as collection_datetime,
    units as source_units,
    'synthea' as data_source,
    'observations.csv' as file_name
from lab_row;
