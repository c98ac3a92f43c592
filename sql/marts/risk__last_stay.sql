-- {{ schema }}.risk__last_stay <- {{ schema }}.risk__population, core.inpatient_stay,
-- core.encounter: the last acute hospitalisation before each scoring date and its LACE points.
-- Grain: person_id, scoring_date (only rows with a discharge in the 12-month window).
-- LACE (van Walraven et al., CMAJ 2010; PMC2845681): L = length of stay points (< 1 day 0,
-- 1 -> 1, 2 -> 2, 3 -> 3, 4-6 -> 4, 7-13 -> 5, >= 14 -> 7); A = 3 points for an acute
-- (emergent) admission; C = Charlson points (added by risk_features.sql, from the comorbidity
-- table); E = ED visits in the 6 months before the admission, capped at 4.
-- Steps:
--   1. hospitalisation = a transfer chain (core.inpatient_stay: an acute admission the same or
--      next day, CMS HWR): admitted at the chain's first admission, discharged at its last
--      discharge, admit type of the first stay, disposition of the last.
--   2. the last hospitalisation discharged after window_12m_start and on or before the scoring
--      date (admitted and still in hospital at the scoring date: not yet a discharge, not used).
--   3. acute admission = admit type 1 (emergency) or 2 (urgent) (NUBC UB-04 FL 14); LACE counts
--      "emergent" admissions, and popcare reads urgent admissions as unplanned too.
--   4. ED visits (core.encounter, emergency_department) starting in the 182 days before the
--      admission date.
create or replace table {{ schema }}.risk__last_stay as
with hospitalisation as (
    select
        person_id,
        transfer_chain_id,
        min(admission_date) as admission_date,
        max(discharge_date) as discharge_date,
        min(case when transfer_chain_position = 1 then admit_type_code end) as admit_type_code,
        max(discharge_disposition_code) filter (where is_transfer_out = false)
            as discharge_disposition_code
    from core.inpatient_stay
    group by person_id, transfer_chain_id
),

last_hospitalisation as (
    select
        p.person_id,
        p.scoring_date,
        h.transfer_chain_id,
        h.admission_date,
        h.discharge_date,
        h.admit_type_code,
        h.discharge_disposition_code,
        row_number() over (
            partition by p.person_id, p.scoring_date
            order by h.discharge_date desc, h.admission_date desc, h.transfer_chain_id desc
        ) as recency
    from {{ schema }}.risk__population as p
    inner join hospitalisation as h
        on
            p.person_id = h.person_id
            and h.discharge_date > p.window_12m_start
            and h.discharge_date <= p.scoring_date
),

prior_ed as (
    select
        l.person_id,
        l.scoring_date,
        count(*) as ed_visits
    from last_hospitalisation as l
    inner join core.encounter as e
        on
            l.person_id = e.person_id
            and e.encounter_type = 'emergency_department'
            and e.start_date >= l.admission_date - interval '182' day
            and e.start_date < l.admission_date
    where l.recency = 1
    group by l.person_id, l.scoring_date
)

select
    l.person_id,
    l.scoring_date,
    l.admission_date as last_stay_admission_date,
    l.discharge_date as last_stay_discharge_date,
    date_diff('day', l.admission_date, l.discharge_date) as last_stay_length_of_stay,
    l.discharge_disposition_code as last_stay_discharge_disposition,
    case
        when date_diff('day', l.admission_date, l.discharge_date) < 1 then 0
        when date_diff('day', l.admission_date, l.discharge_date) <= 3
            then date_diff('day', l.admission_date, l.discharge_date)
        when date_diff('day', l.admission_date, l.discharge_date) <= 6 then 4
        when date_diff('day', l.admission_date, l.discharge_date) <= 13 then 5
        else 7
    end as lace_length_points,
    case when l.admit_type_code in ('1', '2') then 3 else 0 end as lace_acute_points,
    case
        when coalesce(e.ed_visits, 0) > 4 then 4 else coalesce(e.ed_visits, 0)
    end as lace_ed_points
from last_hospitalisation as l
left join prior_ed as e on l.person_id = e.person_id and l.scoring_date = e.scoring_date
where l.recency = 1;
