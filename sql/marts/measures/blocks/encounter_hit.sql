-- Block encounter_hit: an encounter (core.encounter) of one of the types within the window,
-- optionally with a diagnosis in the diagnosis value sets (the encounter's primary diagnosis or
-- any diagnosis linked to it) or a rendering provider in the provider value sets.
-- Params: encounter_types; window (typically relative to the anchor: anchor + 1 day ..
-- anchor + 7 days); diagnosis_value_sets, provider_value_sets (both empty = any encounter of the
-- types; otherwise either may qualify it); principal_only (diagnosis must be first-listed);
-- pick (earliest | latest).
-- Rule: HEDIS FUH counts "a follow-up visit with a mental health provider, or with a diagnosis of
-- a mental health disorder" (BCBS ND FUH tip sheet, HEDIS MY2024); visits on the discharge day do
-- not count (the window starts the day after the anchor).
with visit as (
    select
        u.unit_id,
        u.anchor_date,
        e.encounter_id,
        e.encounter_type,
        e.start_date,
        e.primary_diagnosis_code,
        e.provider_npi
    from {{ unit }} as u
    inner join core.encounter as e on u.person_id = e.person_id
    where
        e.encounter_type in ({{ encounter_types }})
        and e.start_date between {{ window_from }} and {{ window_to }}
),

qualified as (
    select v.*
    from visit as v
    where
        ({{ diagnosis_value_sets_empty }} and {{ provider_value_sets_empty }})
        or exists (
            select 1
            from marts.measure_value_set as s
            where
                s.value_set in ({{ diagnosis_value_sets }})
                and s.code_system = 'icd-10-cm'
                and s.code = v.primary_diagnosis_code
        )
        or exists (
            select 1
            from core.diagnosis as d
            inner join marts.measure_value_set as s
                on d.code_system = s.code_system and d.code = s.code
            where
                d.encounter_id = v.encounter_id
                and s.value_set in ({{ diagnosis_value_sets }})
                and (not {{ principal_only }} or d.position = 1)
        )
        or exists (
            select 1
            from marts.measure_value_set as s
            where
                s.value_set in ({{ provider_value_sets }})
                and s.code_system = 'npi'
                and s.code = v.provider_npi
        )
),

ranked as (
    select
        q.*,
        row_number() over (
            partition by q.unit_id
            order by q.start_date {{ pick_order }}, q.encounter_id
        ) as pick
    from qualified as q
)

select
    unit_id,
    true as met,
    start_date as event_date,
    {{ label }} || ' (' || replace(encounter_type, '_', ' ') || ') on '
    || cast(start_date as varchar)
    || coalesce(
        ', day ' || cast(date_diff('day', anchor_date, start_date) as varchar), ''
    ) as evidence,
    cast(null as double) as quantity
from ranked
where pick = 1
