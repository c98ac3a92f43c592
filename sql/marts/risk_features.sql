-- {{ schema }}.risk_features <- the risk__ tables of {{ schema }} (population, utilisation,
-- last_stay, condition, clinical, pharmacy, registry, comorbidity, care_gap): one row per person
-- and scoring date with every input of the risk model, its missing-data indicators and the
-- display columns that reasons and the audit use. marts.risk_features holds the run's as-of date.
-- Grain: person_id, scoring_date.
-- Parameters: $care_gaps_available (marts.measure_patient was built for this run).
-- Steps:
--   1. demographics and coverage at the scoring date (risk__population): age, female, payer type
--      indicators, dual status (full benefit 02/04/08, partial 01/03/05/06, CMS codes as in
--      hccinfhir), entitlement by disability (OREC 1 or 3), months enrolled in the last 12.
--   2. prior use (risk__utilisation) and the last hospitalisation's LACE points (risk__last_stay);
--      lace_comorbidity_points = Charlson as is up to 3, 5 for 4 or more (van Walraven 2010),
--      from the Charlson index at the scoring date (the comorbidity table); lace_total = L+A+C+E.
--   3. chronic conditions, CMS-HCC V28 raw score, Charlson and Elixhauser (risk__condition,
--      risk__comorbidity: computed in Python by hccinfhir and pycomorb from
--      risk__diagnosis_window).
--   4. last HbA1c and blood pressure (risk__clinical); adherence and polypharmacy
--      (risk__pharmacy); social needs and programmes (risk__registry).
--   5. missing-data indicators: no HbA1c / BP / qualifying drug in 12 months, never screened
--      for social needs, no discharge in 12 months, no encounter in 12 months, no eligibility.
--      A missing value stays null in its value column (the gradient-boosting model routes nulls
--      itself; the logistic reference imputes the training median).
--   6. every model input is a double (1e0 / 0e0 are double literals; 1.0 would be a decimal):
--      the model's feature schema records Float64 for each and refuses anything else.
--   7. open_care_gaps (display only): open gaps in marts.measure_patient for this run; not a
--      model input, because that table only describes the run's as-of date and training rows
--      would read gap status from after their scoring date (docs/risk-model.md).
create or replace table {{ schema }}.risk_features as
select
    p.person_id,
    p.scoring_date,
    p.index_stay_id,
    -- display and audit columns (not model inputs)
    p.sex,
    p.race,
    p.ethnicity,
    p.payer_type,
    case
        when p.age < 18 then '0-17'
        when p.age < 45 then '18-44'
        when p.age < 65 then '45-64'
        when p.age < 75 then '65-74'
        else '75+'
    end as age_band,
    u.last_discharge_date,
    ls.last_stay_length_of_stay,
    c.chronic_conditions,
    k.hba1c_date,
    k.hba1c_value_date,
    k.bp_date,
    case when cast($care_gaps_available as boolean) then coalesce(g.open_care_gaps, 0) end
        as open_care_gaps,
    -- demographics and coverage
    cast(p.age as double) as age,
    case when p.sex = 'female' then 1e0 when p.sex = 'male' then 0e0 end as female,
    case when p.payer_type = 'medicare' then 1e0 else 0e0 end as payer_medicare,
    case when p.payer_type = 'medicaid' then 1e0 else 0e0 end as payer_medicaid,
    case when p.payer_type = 'commercial' then 1e0 else 0e0 end as payer_commercial,
    case when p.dual_status_code in ('02', '04', '08') then 1e0 else 0e0 end as dual_full,
    case when p.dual_status_code in ('01', '03', '05', '06') then 1e0 else 0e0 end as dual_partial,
    case when p.original_reason_entitlement_code in ('1', '3') then 1e0 else 0e0 end
        as entitled_by_disability,
    cast(p.enrolled_months_12m as double) as enrolled_months_12m,
    case when p.has_eligibility then 0e0 else 1e0 end as no_eligibility,
    case when p.in_ehr then 0e0 else 1e0 end as not_in_ehr,
    -- prior use
    cast(u.ip_admits_6m as double) as ip_admits_6m,
    cast(u.ip_admits_12m as double) as ip_admits_12m,
    cast(u.ip_days_12m as double) as ip_days_12m,
    cast(u.ed_visits_6m as double) as ed_visits_6m,
    cast(u.ed_visits_12m as double) as ed_visits_12m,
    cast(u.obs_stays_6m as double) as obs_stays_6m,
    cast(u.obs_stays_12m as double) as obs_stays_12m,
    cast(u.office_visits_12m as double) as office_visits_12m,
    cast(u.ip_admits_12m + u.ed_visits_12m + u.obs_stays_12m as double) as prior_acute_use_12m,
    cast(u.days_since_last_discharge as double) as days_since_last_discharge,
    case when u.last_discharge_date is null then 1e0 else 0e0 end as no_discharge_12m,
    case when u.any_encounter_12m then 0e0 else 1e0 end as no_encounter_12m,
    -- LACE of the last hospitalisation (null without a discharge in 12 months)
    cast(ls.lace_length_points as double) as lace_length_points,
    cast(ls.lace_acute_points as double) as lace_acute_points,
    case
        when ls.person_id is null then null
        when coalesce(m.charlson_index, 0) >= 4 then 5.0
        else cast(coalesce(m.charlson_index, 0) as double)
    end as lace_comorbidity_points,
    cast(ls.lace_ed_points as double) as lace_ed_points,
    case
        when ls.person_id is not null
            then cast(
                ls.lace_length_points + ls.lace_acute_points + ls.lace_ed_points
                + case
                    when coalesce(m.charlson_index, 0) >= 4 then 5
                    else coalesce(m.charlson_index, 0)
                end
                as double
            )
    end as lace_total,
    -- chronic conditions and morbidity scores
    cast(c.cc_diabetes as double) as cc_diabetes,
    cast(c.cc_hypertension as double) as cc_hypertension,
    cast(c.cc_heart_failure as double) as cc_heart_failure,
    cast(c.cc_coronary_artery_disease as double) as cc_coronary_artery_disease,
    cast(c.cc_atrial_fibrillation as double) as cc_atrial_fibrillation,
    cast(c.cc_stroke as double) as cc_stroke,
    cast(c.cc_copd as double) as cc_copd,
    cast(c.cc_asthma as double) as cc_asthma,
    cast(c.cc_chronic_kidney_disease as double) as cc_chronic_kidney_disease,
    cast(c.cc_esrd_or_dialysis as double) as cc_esrd_or_dialysis,
    cast(c.cc_depression as double) as cc_depression,
    cast(c.cc_serious_mental_illness as double) as cc_serious_mental_illness,
    cast(c.cc_dementia as double) as cc_dementia,
    cast(c.cc_cancer as double) as cc_cancer,
    cast(c.cc_substance_use_disorder as double) as cc_substance_use_disorder,
    cast(c.cc_obesity as double) as cc_obesity,
    cast(c.cc_chronic_liver_disease as double) as cc_chronic_liver_disease,
    cast(c.chronic_condition_count as double) as chronic_condition_count,
    cast(coalesce(m.hcc_raw_v28, 0) as double) as hcc_raw_v28,
    cast(coalesce(m.hcc_count, 0) as double) as hcc_count,
    cast(coalesce(m.charlson_index, 0) as double) as charlson_index,
    cast(coalesce(m.elixhauser_index, 0) as double) as elixhauser_index,
    -- HbA1c and blood pressure
    k.hba1c_value,
    cast(date_diff('day', k.hba1c_date, p.scoring_date) as double) as hba1c_days_since,
    case when k.hba1c_controlled then 1e0 when not k.hba1c_controlled then 0e0 end
        as hba1c_controlled,
    case when k.hba1c_poor then 1e0 when not k.hba1c_poor then 0e0 end as hba1c_poor,
    case when k.hba1c_date is null then 1e0 else 0e0 end as hba1c_missing,
    case when c.cc_diabetes = 1 and k.hba1c_date is null then 1e0 else 0e0 end
        as diabetes_without_hba1c,
    k.systolic_bp,
    k.diastolic_bp,
    case when k.bp_controlled then 1e0 when not k.bp_controlled then 0e0 end as bp_controlled,
    case when k.bp_date is null then 1e0 else 0e0 end as bp_missing,
    case when c.cc_hypertension = 1 and k.bp_controlled = false then 1e0 else 0e0 end
        as hypertension_uncontrolled,
    -- medication
    rx.pdc_min,
    rx.pdc_mean,
    cast(rx.pdc_below_80 as double) as pdc_below_80,
    cast(rx.adherence_drug_count as double) as adherence_drug_count,
    case when rx.pdc_min is null then 1e0 else 0e0 end as pdc_missing,
    cast(rx.distinct_drugs_6m as double) as distinct_drugs_6m,
    cast(rx.polypharmacy as double) as polypharmacy,
    -- social needs and programmes
    cast(r.sdoh_housing as double) as sdoh_housing,
    cast(r.sdoh_food as double) as sdoh_food,
    cast(r.sdoh_transport as double) as sdoh_transport,
    cast(coalesce(r.sdoh_housing, 0) + coalesce(r.sdoh_food, 0) + coalesce(r.sdoh_transport, 0)
        as double) as sdoh_flag_count,
    case
        when r.sdoh_housing is null and r.sdoh_food is null and r.sdoh_transport is null then 1e0
        else 0e0
    end as sdoh_not_screened,
    cast(r.program_complex_care as double) as program_complex_care,
    cast(r.program_diabetes_management as double) as program_diabetes_management,
    cast(r.program_transitions_of_care as double) as program_transitions_of_care,
    cast(r.program_any as double) as program_any
from {{ schema }}.risk__population as p
inner join {{ schema }}.risk__utilisation as u
    on p.person_id = u.person_id and p.scoring_date = u.scoring_date
left join {{ schema }}.risk__last_stay as ls
    on p.person_id = ls.person_id and p.scoring_date = ls.scoring_date
inner join {{ schema }}.risk__condition as c
    on p.person_id = c.person_id and p.scoring_date = c.scoring_date
inner join {{ schema }}.risk__clinical as k
    on p.person_id = k.person_id and p.scoring_date = k.scoring_date
inner join {{ schema }}.risk__pharmacy as rx
    on p.person_id = rx.person_id and p.scoring_date = rx.scoring_date
inner join {{ schema }}.risk__registry as r
    on p.person_id = r.person_id and p.scoring_date = r.scoring_date
left join {{ schema }}.risk__comorbidity as m
    on p.person_id = m.person_id and p.scoring_date = m.scoring_date
left join {{ schema }}.risk__care_gap as g on p.person_id = g.person_id
order by p.scoring_date, p.person_id;
