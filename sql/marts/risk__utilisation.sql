-- {{ schema }}.risk__utilisation <- {{ schema }}.risk__population, core.inpatient_stay,
-- core.encounter: prior use of care in the 6 and 12 months up to each scoring date.
-- Grain: person_id, scoring_date (every population row).
-- Steps (an event counts when window start < event date <= scoring date; nothing after the
-- scoring date is read):
--   1. acute inpatient admissions by admission date; a transfer chain (core: an acute admission
--      the same or next day, CMS HWR) counts once; bed days = days from admission to the earlier
--      of discharge and the scoring date, for admissions in the 12-month window.
--   2. ED visits, observation stays and office/telehealth visits from core.encounter by start
--      date (an ED visit that led to an admission is part of the stay in core, so it is not also
--      an ED visit here).
--   3. last discharge: the latest acute discharge on or before the scoring date within the
--      12-month window; days_since_last_discharge is null when there is none (a missing value,
--      flagged by the features).
--   4. any_encounter_12m: whether the person had any encounter in the 12 months (a person with
--      no recorded care looks healthy in every count; the model sees the difference).
create or replace table {{ schema }}.risk__utilisation as
with stay_in_window as (
    select
        p.person_id,
        p.scoring_date,
        s.transfer_chain_id,
        s.admission_date,
        s.discharge_date,
        s.admission_date > p.window_6m_start as in_6m,
        date_diff(
            'day',
            s.admission_date,
            case when s.discharge_date < p.scoring_date then s.discharge_date else p.scoring_date end
        ) as bed_days
    from {{ schema }}.risk__population as p
    inner join core.inpatient_stay as s
        on
            p.person_id = s.person_id
            and s.admission_date > p.window_12m_start
            and s.admission_date <= p.scoring_date
),

stay_count as (
    select
        person_id,
        scoring_date,
        count(distinct case when in_6m then transfer_chain_id end) as ip_admits_6m,
        count(distinct transfer_chain_id) as ip_admits_12m,
        sum(bed_days) as ip_days_12m,
        max(case when discharge_date <= scoring_date then discharge_date end)
            as last_discharge_date
    from stay_in_window
    group by person_id, scoring_date
),

encounter_count as (
    select
        p.person_id,
        p.scoring_date,
        count(
            case when e.encounter_type = 'emergency_department' and e.start_date > p.window_6m_start
                then 1 end
        ) as ed_visits_6m,
        count(case when e.encounter_type = 'emergency_department' then 1 end) as ed_visits_12m,
        count(
            case when e.encounter_type = 'observation' and e.start_date > p.window_6m_start
                then 1 end
        ) as obs_stays_6m,
        count(case when e.encounter_type = 'observation' then 1 end) as obs_stays_12m,
        count(case when e.encounter_type in ('office', 'telehealth') then 1 end)
            as office_visits_12m,
        count(*) as encounters_12m
    from {{ schema }}.risk__population as p
    inner join core.encounter as e
        on
            p.person_id = e.person_id
            and e.start_date > p.window_12m_start
            and e.start_date <= p.scoring_date
    group by p.person_id, p.scoring_date
)

select
    p.person_id,
    p.scoring_date,
    coalesce(s.ip_admits_6m, 0) as ip_admits_6m,
    coalesce(s.ip_admits_12m, 0) as ip_admits_12m,
    coalesce(s.ip_days_12m, 0) as ip_days_12m,
    coalesce(e.ed_visits_6m, 0) as ed_visits_6m,
    coalesce(e.ed_visits_12m, 0) as ed_visits_12m,
    coalesce(e.obs_stays_6m, 0) as obs_stays_6m,
    coalesce(e.obs_stays_12m, 0) as obs_stays_12m,
    coalesce(e.office_visits_12m, 0) as office_visits_12m,
    s.last_discharge_date,
    date_diff('day', s.last_discharge_date, p.scoring_date) as days_since_last_discharge,
    coalesce(e.encounters_12m, 0) > 0 as any_encounter_12m
from {{ schema }}.risk__population as p
left join stay_count as s on p.person_id = s.person_id and p.scoring_date = s.scoring_date
left join encounter_count as e on p.person_id = e.person_id and p.scoring_date = e.scoring_date;
