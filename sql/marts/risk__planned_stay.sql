-- {{ schema }}.risk__planned_stay <- core.inpatient_stay, core.procedure: which acute stays were
-- planned, by popcare's simple rule. Used for the label when the readmission mart (and with it
-- the CMS Planned Readmission Algorithm, marts.readmission__stay.is_planned) is not built;
-- risk__planned_stay_hwr.sql is used instead when it is.
-- Grain: stay_id (every acute stay).
-- Steps: a stay is planned when
--   1. its admit type is 3, elective (NUBC UB-04 FL 14), or
--   2. its principal diagnosis is an encounter for radiotherapy or chemo-/immunotherapy (Z510,
--      Z511*) or rehabilitation and device fitting (Z44-Z46, Z5189): the HWR algorithm's
--      always-planned diagnosis groups (CCS 45 and 254), or
--   3. any ICD-10-PCS procedure of the stay is an organ or bone-marrow transplant (kidney 0TY0/
--      0TY1, liver 0FY0, heart 02YA, lung 0BYC-0BYM, pancreas 0FYG, intestine 0DY8/0DYE,
--      stem-cell/marrow transfusion 3023[03][GXY]/3024[03][GXY]): the always-planned
--      procedure groups (CCS 64, 105, 176).
-- Simpler than the CMS algorithm: potentially planned procedures are not looked at unless the
-- admission was elective.
create or replace table {{ schema }}.risk__planned_stay as
with transplant_stay as (
    select distinct encounter_id as stay_id
    from core.procedure
    where
        code_system = 'icd-10-pcs'
        and (
            substring(code, 1, 4) in (
                '0TY0', '0TY1', '0FY0', '02YA', '0BYC', '0BYD', '0BYF', '0BYG', '0BYH', '0BYJ',
                '0BYK', '0BYL', '0BYM', '0FYG', '0DY8', '0DYE'
            )
            or substring(code, 1, 6) in (
                '30230G', '30233G', '30240G', '30243G', '30230X', '30233X', '30240X', '30243X',
                '30230Y', '30233Y', '30240Y', '30243Y'
            )
        )
)

select
    s.stay_id,
    coalesce(s.admit_type_code = '3', false)
    or coalesce(
        s.principal_diagnosis_code like 'Z510%'
        or s.principal_diagnosis_code like 'Z511%'
        or s.principal_diagnosis_code like 'Z44%'
        or s.principal_diagnosis_code like 'Z45%'
        or s.principal_diagnosis_code like 'Z46%'
        or s.principal_diagnosis_code = 'Z5189',
        false
    )
    or t.stay_id is not null as is_planned
from core.inpatient_stay as s
left join transplant_stay as t on s.stay_id = t.stay_id;
