-- marts.readmission__stay_code <- core.encounter, core.procedure, ref.readmission_icd10cm_ccs,
-- ref.readmission_icd10pcs_ccs, ref.readmission_acute_diagnosis_icd10cm,
-- ref.readmission_potentially_planned_icd10pcs, ref.readmission_pcr_excluded_diagnosis:
-- the codes of every hospital stay that the readmission rules read, each with its CCS category.
-- Grain: stay_id, code_role ('principal_diagnosis' | 'procedure'), code.
-- Steps:
--   1. hospital_stay: core.encounter rows typed acute_inpatient (encounter_id = the stay_id of
--      core.inpatient_stay) or observation (HEDIS PCR counts observation stays).
--   2. principal_diagnosis: core.encounter.primary_diagnosis_code: a stay's principal diagnosis
--      (institutional claim diagnosis_code_1), else the first linked claim's (the core rule); only
--      ICD-10-CM is classified (CMS HWR and the CCS maps are ICD-10 since FY2016).
--   3. procedure: every ICD-10-PCS code core.procedure links to the stay, any position: the CMS
--      Planned Readmission Algorithm (PRA v4.0) reads all procedures of the readmission.
--   4. codes normalised as claims carry them (upper case, no dot).
--   5. CCS by longest prefix: each code's prefixes of length 1-7 are equi-joined to the map and the
--      longest match wins (the shipped maps hold prefix rules; the official AHRQ/Yale maps a user
--      drops in hold exact codes, which are prefixes of full length). Equi-joins keep this fast
--      with the 70k-row official maps.
--   6. flags from the code-level lists, matched the same way: acute principal diagnosis codes
--      outside the acute CCS (PRA), potentially planned ICD-10-PCS codes outside the potentially
--      planned CCS (PRA), and the HEDIS PCR principal-diagnosis exclusions (pregnancy, perinatal).
create or replace table marts.readmission__stay_code as
with hospital_stay as (
    select
        encounter_id as stay_id,
        encounter_type as stay_type,
        primary_diagnosis_code,
        primary_diagnosis_code_system
    from core.encounter
    where encounter_type in ('acute_inpatient', 'observation')
),

principal_diagnosis as (
    select
        stay_id,
        stay_type,
        'principal_diagnosis' as code_role,
        'icd-10-cm' as code_system,
        upper(replace(trim(primary_diagnosis_code), '.', '')) as code
    from hospital_stay
    where
        primary_diagnosis_code is not null
        and coalesce(lower(primary_diagnosis_code_system), 'icd-10-cm') = 'icd-10-cm'
),

stay_procedure as (
    select distinct
        s.stay_id,
        s.stay_type,
        'procedure' as code_role,
        'icd-10-pcs' as code_system,
        upper(replace(trim(p.code), '.', '')) as code
    from core.procedure as p
    inner join hospital_stay as s on p.encounter_id = s.stay_id
    where p.code_system = 'icd-10-pcs' and p.code is not null
),

stay_code as (
    select * from principal_diagnosis
    union
    select * from stay_procedure
),

prefix_length as (
    select n
    from (values (1), (2), (3), (4), (5), (6), (7)) as t (n)
),

code_prefix as (
    select
        c.stay_id,
        c.code_role,
        c.code_system,
        c.code,
        p.n as prefix_length,
        substring(c.code, 1, p.n) as code_prefix
    from stay_code as c
    inner join prefix_length as p on p.n <= length(c.code)
),

ccs_map as (
    select code_system, code_prefix, ccs from ref.readmission_icd10cm_ccs
    union all
    select code_system, code_prefix, ccs from ref.readmission_icd10pcs_ccs
),

ccs_match as (
    select
        p.stay_id,
        p.code_role,
        p.code,
        m.ccs,
        row_number() over (
            partition by p.stay_id, p.code_role, p.code
            order by p.prefix_length desc, m.ccs
        ) as match_rank
    from code_prefix as p
    inner join ccs_map as m
        on p.code_system = m.code_system and p.code_prefix = m.code_prefix
),

acute_code as (
    select distinct p.stay_id, p.code
    from code_prefix as p
    inner join ref.readmission_acute_diagnosis_icd10cm as a
        on p.code_system = a.code_system and p.code_prefix = a.code_prefix
    where p.code_role = 'principal_diagnosis'
),

potentially_planned_code as (
    select distinct p.stay_id, p.code
    from code_prefix as p
    inner join ref.readmission_potentially_planned_icd10pcs as a
        on p.code_system = a.code_system and p.code_prefix = a.code_prefix
    where p.code_role = 'procedure'
),

pcr_excluded_code as (
    select
        p.stay_id,
        p.code,
        min(x.exclusion_reason) as pcr_exclusion_reason
    from code_prefix as p
    inner join ref.readmission_pcr_excluded_diagnosis as x
        on p.code_system = x.code_system and p.code_prefix = x.code_prefix
    where p.code_role = 'principal_diagnosis'
    group by p.stay_id, p.code
)

select
    c.stay_id,
    c.stay_type,
    c.code_role,
    c.code_system,
    c.code,
    m.ccs,
    a.code is not null as is_acute_code,
    pp.code is not null as is_potentially_planned_code,
    x.pcr_exclusion_reason
from stay_code as c
left join ccs_match as m
    on
        c.stay_id = m.stay_id
        and c.code_role = m.code_role
        and c.code = m.code
        and m.match_rank = 1
left join acute_code as a
    on c.code_role = 'principal_diagnosis' and c.stay_id = a.stay_id and c.code = a.code
left join potentially_planned_code as pp
    on c.code_role = 'procedure' and c.stay_id = pp.stay_id and c.code = pp.code
left join pcr_excluded_code as x
    on c.code_role = 'principal_diagnosis' and c.stay_id = x.stay_id and c.code = x.code
order by c.stay_id, c.code_role, c.code;
