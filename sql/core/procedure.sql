-- core.procedure <- core.medical_claim_final, core.encounter_link, staging.procedure: every
-- procedure in long format.
-- Grain: source, source_id, claim_line_number / position, code_system, code.
-- Steps:
--   1. claim_icd_procedure: the 25 ICD procedure columns of each final claim unpivoted (values
--      list + case, standard SQL); empty columns skipped; repeated on several lines -> once.
--      position = the column number (1 = principal procedure, UB-04 FL 74); procedure_date =
--      procedure_date_<n>, else the claim start. Code system: the declared procedure_code_type
--      when it is 'icd-10-pcs'; 'icd-9-cm'/'icd-9-pcs' (ICD-9-CM volume 3) -> 'icd-9-pcs';
--      otherwise ICD-10-PCS for claims starting on or after 2015-10-01 (HHS ICD-10 compliance
--      date), ICD-9 before.
--   2. claim_line_procedure: every final claim line with an hcpcs_code, with its modifiers, place
--      of service and units; code_system 'cpt' when the code starts with a digit (CPT category I,
--      II, III and PLA codes), else 'hcpcs' (HCPCS level II: a letter + 4 digits). CPT II result
--      codes (3044F, 3074F...) are kept here too; core.vital reads the blood-pressure ones.
--      procedure_date = claim_line_start_date, else claim_start_date.
--   3. ehr_procedure: EHR procedures with their source system (cpt, hcpcs, icd-10-pcs,
--      snomed-ct...), plus a row for the normalised code when it is in a different system.
--   4. encounter_id from core.encounter_link (NULL when the EHR procedure names no encounter);
--      claim rows (steps 1 and 2) look it up in one join.
-- No final sort (issue 9): ordering 20 M rows at 1M patients cost more than building them, and
-- readers join or filter by person; the table's order is not part of its contract.
create or replace table core.procedure as
with procedure_position as (
    select position
    from (
        values
        (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13),
        (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25)
    ) as p (position)
),

claim_icd_procedure as (
    -- Empty positions are dropped before the distinct: most claims fill a few of the 25
    -- positions, and de-duplicating the empty ones held every claim x 25 in memory.
    select distinct *
    from (
        select
            m.person_id,
            m.claim_id,
            m.claim_type,
            m.claim_start_date,
            case
                when m.procedure_code_type = 'icd-10-pcs' then 'icd-10-pcs'
                when m.procedure_code_type in ('icd-9-cm', 'icd-9-pcs') then 'icd-9-pcs'
                when m.claim_start_date >= date '2015-10-01' then 'icd-10-pcs'
                else 'icd-9-pcs'
            end as code_system,
            p.position,
            case p.position
                when 1 then m.procedure_code_1
                when 2 then m.procedure_code_2
                when 3 then m.procedure_code_3
                when 4 then m.procedure_code_4
                when 5 then m.procedure_code_5
                when 6 then m.procedure_code_6
                when 7 then m.procedure_code_7
                when 8 then m.procedure_code_8
                when 9 then m.procedure_code_9
                when 10 then m.procedure_code_10
                when 11 then m.procedure_code_11
                when 12 then m.procedure_code_12
                when 13 then m.procedure_code_13
                when 14 then m.procedure_code_14
                when 15 then m.procedure_code_15
                when 16 then m.procedure_code_16
                when 17 then m.procedure_code_17
                when 18 then m.procedure_code_18
                when 19 then m.procedure_code_19
                when 20 then m.procedure_code_20
                when 21 then m.procedure_code_21
                when 22 then m.procedure_code_22
                when 23 then m.procedure_code_23
                when 24 then m.procedure_code_24
                when 25 then m.procedure_code_25
            end as code,
            case p.position
                when 1 then m.procedure_date_1
                when 2 then m.procedure_date_2
                when 3 then m.procedure_date_3
                when 4 then m.procedure_date_4
                when 5 then m.procedure_date_5
                when 6 then m.procedure_date_6
                when 7 then m.procedure_date_7
                when 8 then m.procedure_date_8
                when 9 then m.procedure_date_9
                when 10 then m.procedure_date_10
                when 11 then m.procedure_date_11
                when 12 then m.procedure_date_12
                when 13 then m.procedure_date_13
                when 14 then m.procedure_date_14
                when 15 then m.procedure_date_15
                when 16 then m.procedure_date_16
                when 17 then m.procedure_date_17
                when 18 then m.procedure_date_18
                when 19 then m.procedure_date_19
                when 20 then m.procedure_date_20
                when 21 then m.procedure_date_21
                when 22 then m.procedure_date_22
                when 23 then m.procedure_date_23
                when 24 then m.procedure_date_24
                when 25 then m.procedure_date_25
            end as procedure_date
        from core.medical_claim_final as m
        cross join procedure_position as p
    ) as unpivoted
    where code is not null
),

ehr_procedure as (
    select
        procedure_id,
        person_id,
        encounter_id,
        procedure_date,
        source_code_type as code_system,
        source_code as code,
        modifier_1,
        modifier_2,
        modifier_3,
        modifier_4,
        modifier_5
    from staging.procedure
    union all
    select
        procedure_id,
        person_id,
        encounter_id,
        procedure_date,
        lower(normalized_code_type) as code_system,
        normalized_code as code,
        modifier_1,
        modifier_2,
        modifier_3,
        modifier_4,
        modifier_5
    from staging.procedure
    where normalized_code is not null and lower(normalized_code_type) is distinct from source_code_type
),

claim_procedure as (
    select
        person_id,
        claim_id,
        cast(null as integer) as claim_line_number,
        claim_type,
        code_system,
        code,
        position,
        cast(null as varchar) as modifier_1,
        cast(null as varchar) as modifier_2,
        cast(null as varchar) as modifier_3,
        cast(null as varchar) as modifier_4,
        cast(null as varchar) as modifier_5,
        cast(null as varchar) as place_of_service_code,
        cast(null as decimal(18, 2)) as quantity,
        coalesce(procedure_date, claim_start_date) as procedure_date
    from claim_icd_procedure
    union all
    select
        person_id,
        claim_id,
        claim_line_number,
        claim_type,
        case when substring(hcpcs_code, 1, 1) between '0' and '9' then 'cpt' else 'hcpcs' end
            as code_system,
        hcpcs_code as code,
        cast(null as integer) as position,
        hcpcs_modifier_1 as modifier_1,
        hcpcs_modifier_2 as modifier_2,
        hcpcs_modifier_3 as modifier_3,
        hcpcs_modifier_4 as modifier_4,
        hcpcs_modifier_5 as modifier_5,
        place_of_service_code,
        service_unit_quantity as quantity,
        coalesce(claim_line_start_date, claim_start_date) as procedure_date
    from core.medical_claim_final
    where hcpcs_code is not null
)

select
    p.person_id,
    'medical_claim' as source,
    p.claim_id as source_id,
    p.claim_line_number,
    p.claim_type,
    l.encounter_id,
    p.code_system,
    p.code,
    p.position,
    p.modifier_1,
    p.modifier_2,
    p.modifier_3,
    p.modifier_4,
    p.modifier_5,
    p.place_of_service_code,
    p.quantity,
    p.procedure_date
from claim_procedure as p
left join core.encounter_link as l on l.source = 'medical_claim' and p.claim_id = l.source_id
union all
select
    e.person_id,
    'procedure' as source,
    e.procedure_id as source_id,
    cast(null as integer) as claim_line_number,
    cast(null as varchar) as claim_type,
    l.encounter_id,
    e.code_system,
    e.code,
    cast(null as integer) as position,
    e.modifier_1,
    e.modifier_2,
    e.modifier_3,
    e.modifier_4,
    e.modifier_5,
    cast(null as varchar) as place_of_service_code,
    cast(null as decimal(18, 2)) as quantity,
    e.procedure_date
from ehr_procedure as e
left join core.encounter_link as l on l.source = 'encounter' and e.encounter_id = l.source_id;
