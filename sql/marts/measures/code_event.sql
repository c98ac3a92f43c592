-- marts.measure_code_event <- core.diagnosis, core.procedure, core.lab, core.pharmacy_fill,
-- core.encounter, marts.measure_value_set: every dated, coded event of a person whose code is in
-- some value set, in one long table the building blocks search.
-- Grain: one row per source row and code (a diagnosis, a procedure line, a lab result, a fill, an
-- encounter's type, discharge disposition or rendering NPI).
-- Steps:
--   1. diagnoses (claims and EHR conditions) with their code system; is_principal = position 1
--      (UB-04 FL 67 / CMS-1500 item 21 first-listed); is_problem_list for EHR conditions, which
--      measures may treat as active from their recorded date onward.
--   2. procedures (ICD-10-PCS, CPT, HCPCS incl. CPT II result codes, EHR procedures) with their
--      modifiers (laterality: LT, RT, 50 bilateral).
--   3. lab results by LOINC that carry a result (eCQM: a test "with a result"; a cancelled or
--      empty result proves nothing).
--   4. pharmacy fills by NDC (and RxNorm) with a dispensing date (an order is not a dispensing).
--   5. encounters by popcare's encounter type ('encounter-type'), NUBC discharge disposition
--      ('discharge-disposition') and rendering NPI ('npi'): value sets may name them (hospice
--      encounters, discharge to hospice, a user's list of mental-health providers).
--   6. only codes some value set names are kept (the table stays small whatever the claims volume).
create or replace table marts.measure_code_event as
with wanted as (
    select distinct
        code_system,
        code
    from marts.measure_value_set
),

event as (
    select
        d.person_id,
        'diagnosis' as source_table,
        d.source,
        d.code_system,
        d.code,
        d.service_date as event_date,
        d.encounter_id,
        coalesce(d.position = 1, false) as is_principal,
        d.source = 'condition' as is_problem_list,
        cast(null as varchar) as modifier_1,
        cast(null as varchar) as modifier_2,
        cast(null as varchar) as modifier_3,
        cast(null as varchar) as modifier_4,
        cast(null as varchar) as modifier_5
    from core.diagnosis as d

    union all

    select
        p.person_id,
        'procedure' as source_table,
        p.source,
        p.code_system,
        upper(p.code) as code,
        p.procedure_date as event_date,
        p.encounter_id,
        coalesce(p.position = 1, false) as is_principal,
        false as is_problem_list,
        upper(p.modifier_1) as modifier_1,
        upper(p.modifier_2) as modifier_2,
        upper(p.modifier_3) as modifier_3,
        upper(p.modifier_4) as modifier_4,
        upper(p.modifier_5) as modifier_5
    from core.procedure as p

    union all

    select
        l.person_id,
        'lab' as source_table,
        'lab_result' as source,
        'loinc' as code_system,
        l.loinc as code,
        l.lab_date as event_date,
        l.encounter_id,
        false as is_principal,
        false as is_problem_list,
        null as modifier_1,
        null as modifier_2,
        null as modifier_3,
        null as modifier_4,
        null as modifier_5
    from core.lab as l
    where
        l.loinc is not null
        and (l.value_numeric is not null or trim(coalesce(l.result_text, '')) <> '')

    union all

    select
        f.person_id,
        'fill' as source_table,
        f.source,
        'ndc' as code_system,
        f.ndc as code,
        f.dispensing_date as event_date,
        cast(null as varchar) as encounter_id,
        false as is_principal,
        false as is_problem_list,
        null as modifier_1,
        null as modifier_2,
        null as modifier_3,
        null as modifier_4,
        null as modifier_5
    from core.pharmacy_fill as f
    where f.ndc is not null and f.dispensing_date is not null

    union all

    select
        f.person_id,
        'fill' as source_table,
        f.source,
        'rxnorm' as code_system,
        f.rxnorm as code,
        f.dispensing_date as event_date,
        cast(null as varchar) as encounter_id,
        false as is_principal,
        false as is_problem_list,
        null as modifier_1,
        null as modifier_2,
        null as modifier_3,
        null as modifier_4,
        null as modifier_5
    from core.pharmacy_fill as f
    where f.rxnorm is not null and f.dispensing_date is not null

    union all

    select
        e.person_id,
        'encounter' as source_table,
        e.source,
        'encounter-type' as code_system,
        e.encounter_type as code,
        e.start_date as event_date,
        e.encounter_id,
        false as is_principal,
        false as is_problem_list,
        null as modifier_1,
        null as modifier_2,
        null as modifier_3,
        null as modifier_4,
        null as modifier_5
    from core.encounter as e
    where e.encounter_type is not null

    union all

    select
        e.person_id,
        'encounter' as source_table,
        e.source,
        'discharge-disposition' as code_system,
        e.discharge_disposition_code as code,
        coalesce(e.end_date, e.start_date) as event_date,
        e.encounter_id,
        false as is_principal,
        false as is_problem_list,
        null as modifier_1,
        null as modifier_2,
        null as modifier_3,
        null as modifier_4,
        null as modifier_5
    from core.encounter as e
    where e.discharge_disposition_code is not null

    union all

    select
        e.person_id,
        'encounter' as source_table,
        e.source,
        'npi' as code_system,
        e.provider_npi as code,
        e.start_date as event_date,
        e.encounter_id,
        false as is_principal,
        false as is_problem_list,
        null as modifier_1,
        null as modifier_2,
        null as modifier_3,
        null as modifier_4,
        null as modifier_5
    from core.encounter as e
    where e.provider_npi is not null
)

select ev.*
from event as ev
inner join wanted as w on ev.code_system = w.code_system and ev.code = w.code;
