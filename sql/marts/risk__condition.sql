-- {{ schema }}.risk__condition <- {{ schema }}.risk__population, core.diagnosis,
-- ref.risk_chronic_condition (models/chronic_conditions.csv): chronic conditions on record at
-- each scoring date.
-- Grain: person_id, scoring_date (every population row).
-- Steps:
--   1. condition_code: ICD-10-CM codes (any position) of final claims with a service date in the
--      12 months up to the scoring date, plus EHR problem-list conditions recorded on or before
--      the scoring date (a problem-list entry stays on the list; conditions coded in SNOMED CT
--      count through the ICD-10-CM row core adds for their normalised code).
--   2. a code belongs to a condition when it starts with one of the condition's 'include'
--      prefixes and with none of its 'exclude' prefixes (CMS Chronic Conditions Warehouse
--      categories, simplified to ICD-10-CM category prefixes; cancer excludes C44 non-melanoma
--      skin cancer).
--   3. one 0/1 column per condition; chronic_condition_count counts them, except
--      esrd_or_dialysis, which refines chronic_kidney_disease rather than adding a condition;
--      chronic_conditions lists the labels present (for reasons), alphabetically.
create or replace table {{ schema }}.risk__condition as
with condition_code as (
    select distinct
        p.person_id,
        p.scoring_date,
        d.code
    from {{ schema }}.risk__population as p
    inner join core.diagnosis as d
        on
            p.person_id = d.person_id
            and d.code_system = 'icd-10-cm'
            and d.service_date <= p.scoring_date
            and (d.source = 'condition' or d.service_date > p.window_12m_start)
),

code_condition as (
    select distinct
        c.person_id,
        c.scoring_date,
        r.condition,
        r.label
    from condition_code as c
    inner join ref.risk_chronic_condition as r
        on r.rule = 'include' and c.code like r.code_prefix || '%'
    where not exists (
        select 1 from ref.risk_chronic_condition as x
        where
            x.rule = 'exclude'
            and x.condition = r.condition
            and c.code like x.code_prefix || '%'
    )
),

condition_wide as (
    select
        person_id,
        scoring_date,
        max(case when condition = 'diabetes' then 1 else 0 end) as cc_diabetes,
        max(case when condition = 'hypertension' then 1 else 0 end) as cc_hypertension,
        max(case when condition = 'heart_failure' then 1 else 0 end) as cc_heart_failure,
        max(case when condition = 'coronary_artery_disease' then 1 else 0 end)
            as cc_coronary_artery_disease,
        max(case when condition = 'atrial_fibrillation' then 1 else 0 end)
            as cc_atrial_fibrillation,
        max(case when condition = 'stroke' then 1 else 0 end) as cc_stroke,
        max(case when condition = 'copd' then 1 else 0 end) as cc_copd,
        max(case when condition = 'asthma' then 1 else 0 end) as cc_asthma,
        max(case when condition = 'chronic_kidney_disease' then 1 else 0 end)
            as cc_chronic_kidney_disease,
        max(case when condition = 'esrd_or_dialysis' then 1 else 0 end) as cc_esrd_or_dialysis,
        max(case when condition = 'depression' then 1 else 0 end) as cc_depression,
        max(case when condition = 'serious_mental_illness' then 1 else 0 end)
            as cc_serious_mental_illness,
        max(case when condition = 'dementia' then 1 else 0 end) as cc_dementia,
        max(case when condition = 'cancer' then 1 else 0 end) as cc_cancer,
        max(case when condition = 'substance_use_disorder' then 1 else 0 end)
            as cc_substance_use_disorder,
        max(case when condition = 'obesity' then 1 else 0 end) as cc_obesity,
        max(case when condition = 'chronic_liver_disease' then 1 else 0 end)
            as cc_chronic_liver_disease,
        count(distinct case when condition <> 'esrd_or_dialysis' then condition end)
            as chronic_condition_count,
        string_agg(distinct label, ', ' order by label) filter (
            where condition <> 'esrd_or_dialysis'
        ) as chronic_conditions
    from code_condition
    group by person_id, scoring_date
)

select
    p.person_id,
    p.scoring_date,
    coalesce(w.cc_diabetes, 0) as cc_diabetes,
    coalesce(w.cc_hypertension, 0) as cc_hypertension,
    coalesce(w.cc_heart_failure, 0) as cc_heart_failure,
    coalesce(w.cc_coronary_artery_disease, 0) as cc_coronary_artery_disease,
    coalesce(w.cc_atrial_fibrillation, 0) as cc_atrial_fibrillation,
    coalesce(w.cc_stroke, 0) as cc_stroke,
    coalesce(w.cc_copd, 0) as cc_copd,
    coalesce(w.cc_asthma, 0) as cc_asthma,
    coalesce(w.cc_chronic_kidney_disease, 0) as cc_chronic_kidney_disease,
    coalesce(w.cc_esrd_or_dialysis, 0) as cc_esrd_or_dialysis,
    coalesce(w.cc_depression, 0) as cc_depression,
    coalesce(w.cc_serious_mental_illness, 0) as cc_serious_mental_illness,
    coalesce(w.cc_dementia, 0) as cc_dementia,
    coalesce(w.cc_cancer, 0) as cc_cancer,
    coalesce(w.cc_substance_use_disorder, 0) as cc_substance_use_disorder,
    coalesce(w.cc_obesity, 0) as cc_obesity,
    coalesce(w.cc_chronic_liver_disease, 0) as cc_chronic_liver_disease,
    coalesce(w.chronic_condition_count, 0) as chronic_condition_count,
    w.chronic_conditions
from {{ schema }}.risk__population as p
left join condition_wide as w on p.person_id = w.person_id and p.scoring_date = w.scoring_date;
