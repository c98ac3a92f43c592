-- {{ schema }}.risk__label <- {{ schema }}.risk__population, {{ schema }}.risk__planned_stay,
-- core.inpatient_stay, core.encounter, core.diagnosis, ref.risk_chronic_condition: what happened
-- after each scoring date (training and validation only; never a feature).
-- Grain: person_id, scoring_date (every population row).
-- Parameters: $count_ed, $count_observation (booleans: which encounters besides unplanned acute
-- admissions make the label positive).
-- Steps (events with scoring_date < event date <= horizon_end; the horizon is the population's):
--   1. unplanned acute admissions: core.inpatient_stay admitted in the horizon whose stay is not
--      planned (risk__planned_stay); a transfer chain counts once.
--   2. ED visits (and, when $count_observation, observation stays: core types an ED visit that
--      turns into an observation stay as observation) starting in the horizon.
--   3. label = 1 when any counted event happened; acute_events = how many; first_event_date.
--   4. realised_condition_count: chronic conditions (same code list as the features) coded in
--      the horizon: the "realised health" of Obermeyer et al. (Science 2019) for the audit of
--      need at equal score. Not a label, not a feature.
create or replace table {{ schema }}.risk__label as
with admission_event as (
    select
        p.person_id,
        p.scoring_date,
        min(s.admission_date) as first_date,
        count(distinct s.transfer_chain_id) as events
    from {{ schema }}.risk__population as p
    inner join core.inpatient_stay as s
        on
            p.person_id = s.person_id
            and s.admission_date > p.scoring_date
            and s.admission_date <= p.horizon_end
    left join {{ schema }}.risk__planned_stay as pl on s.stay_id = pl.stay_id
    where not coalesce(pl.is_planned, false)
    group by p.person_id, p.scoring_date
),

encounter_event as (
    select
        p.person_id,
        p.scoring_date,
        min(e.start_date) as first_date,
        count(*) as events
    from {{ schema }}.risk__population as p
    inner join core.encounter as e
        on
            p.person_id = e.person_id
            and e.start_date > p.scoring_date
            and e.start_date <= p.horizon_end
    where
        (cast($count_ed as boolean) and e.encounter_type = 'emergency_department')
        or (cast($count_observation as boolean) and e.encounter_type = 'observation')
    group by p.person_id, p.scoring_date
),

horizon_condition as (
    select
        p.person_id,
        p.scoring_date,
        count(distinct r.condition) as realised_condition_count
    from {{ schema }}.risk__population as p
    inner join core.diagnosis as d
        on
            p.person_id = d.person_id
            and d.code_system = 'icd-10-cm'
            and d.service_date > p.scoring_date
            and d.service_date <= p.horizon_end
    inner join ref.risk_chronic_condition as r
        on r.rule = 'include' and r.condition <> 'esrd_or_dialysis'
        and d.code like r.code_prefix || '%'
    where not exists (
        select 1 from ref.risk_chronic_condition as x
        where x.rule = 'exclude' and x.condition = r.condition and d.code like x.code_prefix || '%'
    )
    group by p.person_id, p.scoring_date
)

select
    p.person_id,
    p.scoring_date,
    p.horizon_end,
    case when coalesce(a.events, 0) + coalesce(e.events, 0) > 0 then 1 else 0 end as label,
    coalesce(a.events, 0) + coalesce(e.events, 0) as acute_events,
    coalesce(a.events, 0) as unplanned_admissions,
    case
        when a.first_date is null then e.first_date
        when e.first_date is null then a.first_date
        when a.first_date < e.first_date then a.first_date
        else e.first_date
    end as first_event_date,
    coalesce(c.realised_condition_count, 0) as realised_condition_count
from {{ schema }}.risk__population as p
left join admission_event as a on p.person_id = a.person_id and p.scoring_date = a.scoring_date
left join encounter_event as e on p.person_id = e.person_id and p.scoring_date = e.scoring_date
left join horizon_condition as c on p.person_id = c.person_id and p.scoring_date = c.scoring_date;
