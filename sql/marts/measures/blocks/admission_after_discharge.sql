-- Block admission_after_discharge: after the unit's discharge (anchor), within the window, the
-- person was readmitted to an acute hospital (a stay outside the index transfer chain), admitted
-- to a non-acute setting (encounter types, e.g. a SNF), or discharged straight to one (NUBC
-- patient status codes).
-- Params: window (default anchor .. anchor + 30 days); acute (true); nonacute_encounter_types;
-- nonacute_dispositions.
-- Rule: HEDIS FUH excludes discharges followed within the 30-day follow-up period by a
-- readmission or direct transfer to a non-acute inpatient setting, and by an acute readmission
-- (a mental-health readmission becomes its own index discharge; any other one removes the
-- index). Discharges to non-acute care also leave outpatient follow-up measures: the patient is
-- under facility care.
with index_stay as (
    select
        u.unit_id,
        u.person_id,
        u.anchor_date,
        s.transfer_chain_id,
        s.discharge_disposition_code,
        cast({{ window_from }} as date) as window_start,
        cast({{ window_to }} as date) as window_end
    from {{ unit }} as u
    inner join core.inpatient_stay as s on u.episode_id = s.stay_id
),

event as (
    select
        i.unit_id,
        s.admission_date as event_date,
        'acute readmission on ' || cast(s.admission_date as varchar) as evidence
    from index_stay as i
    inner join core.inpatient_stay as s on i.person_id = s.person_id
    where
        {{ acute }}
        and s.transfer_chain_id <> i.transfer_chain_id
        and s.admission_date between i.window_start and i.window_end

    union all

    select
        i.unit_id,
        e.start_date as event_date,
        replace(e.encounter_type, '_', ' ') || ' admission on '
        || cast(e.start_date as varchar) as evidence
    from index_stay as i
    inner join core.encounter as e on i.person_id = e.person_id
    where
        e.encounter_type in ({{ nonacute_encounter_types }})
        and e.start_date between i.window_start and i.window_end

    union all

    select
        i.unit_id,
        i.anchor_date as event_date,
        'discharged to a non-acute setting (patient status '
        || i.discharge_disposition_code || ')' as evidence
    from index_stay as i
    where i.discharge_disposition_code in ({{ nonacute_dispositions }})
),

ranked as (
    select
        *,
        row_number() over (partition by unit_id order by event_date, evidence) as pick
    from event
)

select
    unit_id,
    true as met,
    event_date,
    evidence,
    cast(null as double) as quantity
from ranked
where pick = 1
