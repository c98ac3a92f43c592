-- converted.medication <- Synthea medications.csv (+ payers.csv, encounters.csv): one row per
-- prescription.
-- Steps:
--   1. medication_id = md5 of the row's identifying fields plus its occurrence number;
--   2. Synthea codes drugs in RxNorm: CODE goes to source_code and rxnorm_code; no NDC exists;
--   3. prescribing_date = START; dispensing_date = START when DISPENSES says it was filled at least
--      once (Synthea gives no fill dates: the first fill is dated the day of the prescription,
--      later refills are not dated at all);
--   4. quantity and days_supply are left empty: Synthea gives only the number of fills and the
--      prescription's whole START-STOP period, not a supply per fill;
--   5. payer = the PAYER's name; practitioner_id = the encounter's PROVIDER.
create or replace table converted.medication as
with medication_row as (
    select
        m.*,
        row_number() over (
            partition by m.patient, m.encounter, m.code, m.start, m.stop
            order by m.description
        ) as occurrence
    from synthea.medications as m
)

select
    md5(concat_ws(
        '|', 'medication', m.patient, coalesce(m.encounter, ''), m.code,
        coalesce(cast(m.start as varchar), ''), coalesce(cast(m.stop as varchar), ''), m.occurrence
    )) as medication_id,
    m.patient as person_id,
    payer.name as payer,
    m.patient as patient_id,
    m.encounter as encounter_id,
    case when coalesce(m.dispenses, 1) > 0 then cast(m.start as date) end as dispensing_date,
    cast(m.start as date) as prescribing_date,
    'rxnorm' as source_code_type,
    m.code as source_code,
    m.description as source_description,
    m.code as rxnorm_code,
    m.description as rxnorm_description,
    e.provider as practitioner_id,
    'synthea' as data_source,
    'medications.csv' as file_name
from medication_row as m
left join synthea.payers as payer on payer.id = m.payer
left join synthea.encounters as e on e.id = m.encounter;
