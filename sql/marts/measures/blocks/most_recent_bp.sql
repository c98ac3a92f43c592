-- Block most_recent_bp: the most recent blood pressure in the window is below the thresholds.
-- Params: window; systolic_below (140); diastolic_below (90); exclude_encounter_types.
-- Rules (CMS165v14 / HEDIS CBP):
--   1. readings from EHR vitals (LOINC 8480-6 / 8462-4) and CPT II bands on claims (3074F <130,
--      3075F 130-139, 3077F >=140; 3078F <80, 3079F 80-89, 3080F >=90; core.vital).
--   2. readings taken during an inpatient stay or an ED visit do not count (their encounter type,
--      or a date inside a core.inpatient_stay).
--   3. the most recent day with both a systolic and a diastolic reading; on that day the lowest
--      systolic and the lowest diastolic count, even from different readings.
--   4. a band counts below a threshold when its upper bound is at or below it (130-139 is below
--      140; >=140 never is).
-- Output: met = controlled; a unit without a reading in the window has no row (not controlled).
with reading as (
    select
        u.unit_id,
        v.vital_date,
        v.kind,
        v.value_numeric,
        case
            when v.kind = 'systolic_bp_band'
                then case v.band_label when '<130' then 130 when '130-139' then 140 else 999 end
            when v.kind = 'diastolic_bp_band'
                then case v.band_label when '<80' then 80 when '80-89' then 90 else 999 end
        end as band_upper,
        v.band_label
    from {{ unit }} as u
    inner join core.vital as v on u.person_id = v.person_id
    left join core.encounter as e on v.encounter_id = e.encounter_id
    where
        v.kind in ('systolic_bp', 'diastolic_bp', 'systolic_bp_band', 'diastolic_bp_band')
        and (v.value_numeric is not null or v.band_label is not null)
        and v.vital_date between {{ window_from }} and {{ window_to }}
        and not coalesce(e.encounter_type in ({{ exclude_encounter_types }}), false)
        and not exists (
            select 1
            from core.inpatient_stay as s
            where
                s.person_id = v.person_id
                and v.vital_date > s.admission_date
                and v.vital_date < s.discharge_date
        )
),

reading_day as (
    select
        unit_id,
        vital_date,
        min(case when kind = 'systolic_bp' then value_numeric end) as systolic,
        min(case when kind = 'diastolic_bp' then value_numeric end) as diastolic,
        min(case when kind = 'systolic_bp_band' then band_upper end) as systolic_band_upper,
        min(case when kind = 'diastolic_bp_band' then band_upper end) as diastolic_band_upper,
        min(case when kind = 'systolic_bp_band' then band_label end) as systolic_band,
        min(case when kind = 'diastolic_bp_band' then band_label end) as diastolic_band
    from reading
    group by unit_id, vital_date
    having
        count(case when kind in ('systolic_bp', 'systolic_bp_band') then 1 end) > 0
        and count(case when kind in ('diastolic_bp', 'diastolic_bp_band') then 1 end) > 0
),

latest as (
    select
        *,
        row_number() over (partition by unit_id order by vital_date desc) as pick
    from reading_day
)

select
    unit_id,
    (
        coalesce(systolic < {{ systolic_below }}, false)
        or coalesce(systolic_band_upper <= {{ systolic_below }}, false)
    )
    and (
        coalesce(diastolic < {{ diastolic_below }}, false)
        or coalesce(diastolic_band_upper <= {{ diastolic_below }}, false)
    ) as met,
    vital_date as event_date,
    {{ label }} || ' '
    || coalesce(cast(cast(systolic as integer) as varchar), systolic_band) || '/'
    || coalesce(cast(cast(diastolic as integer) as varchar), diastolic_band)
    || ' on ' || cast(vital_date as varchar) as evidence,
    systolic as quantity
from latest
where pick = 1
