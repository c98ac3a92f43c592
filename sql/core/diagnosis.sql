-- core.diagnosis <- core.medical_claim_final, core.encounter_link, staging.condition: every
-- diagnosis in long format.
-- Grain: source, source_id, position, code_system, code (claims: one row per claim and filled
-- diagnosis column; conditions: one row per condition and code system).
-- Steps:
--   1. claim_diagnosis: the 25 diagnosis columns of each final claim unpivoted (a values list of
--      positions and a case expression: standard SQL that Spark and Trino run as is); empty
--      columns skipped; a code repeated on several lines of the claim kept once per position.
--      position = the column number (1 = principal / first-listed, UB-04 FL 67 and CMS-1500
--      item 21); poa = diagnosis_poa_<n>; service_date = claim_start_date.
--   2. claim code system: the declared diagnosis_code_type when it names a diagnosis system
--      (icd-10-cm, icd-9-cm); otherwise (missing, or a procedure label such as 'icd-10-pcs',
--      which cannot describe a diagnosis) ICD-10-CM for claims starting on or after 2015-10-01,
--      the HHS ICD-10 compliance date, and ICD-9-CM before.
--   3. condition_diagnosis: EHR conditions with their source code and system (ICD-10-CM,
--      SNOMED CT, ICD-9-CM, ...) as position condition_rank; when the normalised code is in a
--      different system (e.g. SNOMED CT mapped to ICD-10-CM), a second row carries it, so
--      measures written in ICD-10-CM see problem-list entries coded in SNOMED CT. service_date =
--      recorded_date, else onset_date. Conditions with status 'entered-in-error' are left out.
--   4. encounter_id from core.encounter_link (a claim's encounter; a condition's EHR encounter,
--      or the encounter that absorbed it). NULL when the condition names no known encounter.
-- No final sort (issue 9): sorting the table cost a tenth to a fifth of building it at 100k
-- patients and held memory at 1M; readers join or filter by person, and the table's row order is
-- not part of its contract.
create or replace table core.diagnosis as
with diagnosis_position as (
    select position
    from (
        values
        (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13),
        (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25)
    ) as p (position)
),

claim_diagnosis as (
    -- Empty positions are dropped before the distinct: most claims fill a few of the 25
    -- positions, and de-duplicating the empty ones held every claim x 25 in memory.
    select distinct *
    from (
        select
            m.person_id,
            m.claim_id,
            m.claim_type,
            m.claim_start_date as service_date,
            case
                when m.diagnosis_code_type in ('icd-10-cm', 'icd-9-cm') then m.diagnosis_code_type
                when m.claim_start_date >= date '2015-10-01' then 'icd-10-cm'
                else 'icd-9-cm'
            end as code_system,
            p.position,
            case p.position
                when 1 then m.diagnosis_code_1
                when 2 then m.diagnosis_code_2
                when 3 then m.diagnosis_code_3
                when 4 then m.diagnosis_code_4
                when 5 then m.diagnosis_code_5
                when 6 then m.diagnosis_code_6
                when 7 then m.diagnosis_code_7
                when 8 then m.diagnosis_code_8
                when 9 then m.diagnosis_code_9
                when 10 then m.diagnosis_code_10
                when 11 then m.diagnosis_code_11
                when 12 then m.diagnosis_code_12
                when 13 then m.diagnosis_code_13
                when 14 then m.diagnosis_code_14
                when 15 then m.diagnosis_code_15
                when 16 then m.diagnosis_code_16
                when 17 then m.diagnosis_code_17
                when 18 then m.diagnosis_code_18
                when 19 then m.diagnosis_code_19
                when 20 then m.diagnosis_code_20
                when 21 then m.diagnosis_code_21
                when 22 then m.diagnosis_code_22
                when 23 then m.diagnosis_code_23
                when 24 then m.diagnosis_code_24
                when 25 then m.diagnosis_code_25
            end as code,
            case p.position
                when 1 then m.diagnosis_poa_1
                when 2 then m.diagnosis_poa_2
                when 3 then m.diagnosis_poa_3
                when 4 then m.diagnosis_poa_4
                when 5 then m.diagnosis_poa_5
                when 6 then m.diagnosis_poa_6
                when 7 then m.diagnosis_poa_7
                when 8 then m.diagnosis_poa_8
                when 9 then m.diagnosis_poa_9
                when 10 then m.diagnosis_poa_10
                when 11 then m.diagnosis_poa_11
                when 12 then m.diagnosis_poa_12
                when 13 then m.diagnosis_poa_13
                when 14 then m.diagnosis_poa_14
                when 15 then m.diagnosis_poa_15
                when 16 then m.diagnosis_poa_16
                when 17 then m.diagnosis_poa_17
                when 18 then m.diagnosis_poa_18
                when 19 then m.diagnosis_poa_19
                when 20 then m.diagnosis_poa_20
                when 21 then m.diagnosis_poa_21
                when 22 then m.diagnosis_poa_22
                when 23 then m.diagnosis_poa_23
                when 24 then m.diagnosis_poa_24
                when 25 then m.diagnosis_poa_25
            end as poa
        from core.medical_claim_final as m
        cross join diagnosis_position as p
    ) as unpivoted
    where code is not null
),

condition_code as (
    select
        condition_id,
        person_id,
        encounter_id,
        coalesce(recorded_date, onset_date) as service_date,
        condition_rank as position,
        present_on_admit_code as poa,
        source_code_type as code_system,
        source_code as code
    from staging.condition
    where coalesce(lower(status), '') <> 'entered-in-error'
    union all
    select
        condition_id,
        person_id,
        encounter_id,
        coalesce(recorded_date, onset_date) as service_date,
        condition_rank as position,
        present_on_admit_code as poa,
        lower(normalized_code_type) as code_system,
        normalized_code as code
    from staging.condition
    where
        coalesce(lower(status), '') <> 'entered-in-error'
        and normalized_code is not null
        and lower(normalized_code_type) is distinct from source_code_type
)

select
    d.person_id,
    'medical_claim' as source,
    d.claim_id as source_id,
    d.claim_type,
    l.encounter_id,
    d.code_system,
    d.code,
    d.position,
    d.poa,
    d.service_date
from claim_diagnosis as d
left join core.encounter_link as l on l.source = 'medical_claim' and d.claim_id = l.source_id
where d.code is not null
union all
select
    c.person_id,
    'condition' as source,
    c.condition_id as source_id,
    cast(null as varchar) as claim_type,
    l.encounter_id,
    c.code_system,
    c.code,
    c.position,
    c.poa,
    c.service_date
from condition_code as c
left join core.encounter_link as l on l.source = 'encounter' and c.encounter_id = l.source_id;
