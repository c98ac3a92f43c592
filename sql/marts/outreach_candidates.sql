-- marts.outreach_candidates <- core.person, core.enrollment, core.inpatient_stay, core.encounter,
-- staging.registry, staging.provider_attribution, staging.encounter, {{ risk_scores }},
-- {{ measure_patient }}, measures/outreach_actions.csv: one row per person in core.person with
-- everything the outreach list shows or ranks on, and the person's priority group.
-- {{ risk_scores }} / {{ measure_patient }} are marts.risk_scores / marts.measure_patient, or empty
-- stand-ins with the same columns when those marts are not built yet (pipelines/outreach.py).
-- Steps:
--   1. registry_person: per person (the registry's grain is person, program, enrolled_date):
--      phone and preferred_contact from the latest row that has them (enrolled_date, then
--      file/row); opted_out when any row says so (consent withdrawal is never undone implicitly);
--      the latest outreach on or before $as_of with its outcome; the care manager of the latest
--      programme enrolment active on $as_of (enrolled on or before, not disenrolled on or before)
--      that names one.
--   2. attribution: the latest provider_attribution month on or before the as-of month
--      (year_month 'YYYYMM'; a dash is tolerated); the practice is the organisation's own
--      (custom_attributed_provider_practice), else the payer's.
--   3. last_discharge: the latest acute stay (core.inpatient_stay) discharged on or before
--      $as_of, with facility (the EHR facility name when the stay carries one, else the NPI) and
--      disposition; followed_up when an office or telehealth encounter (core.encounter) starts
--      after the discharge day and on or before $as_of.
--   4. is_transition (priority group 1): that discharge is within the last $transition_days days
--      (0 = discharged on the as-of date), went to a community setting (NUBC patient status 01
--      home, 06 home health, 07 left against advice, 81/86 the same with a planned readmission, or
--      unknown) - CMS transitional care management (CPT 99495/99496) covers discharges to the
--      community - and no follow-up has happened yet.
--   5. risk: the latest score per person with scoring_date on or before $as_of (ties: the later
--      model version, then the higher score, so a duplicate row cannot make a run differ); tier
--      lower-cased.
--   6. gaps: measure_patient rows with gap_open in a period containing $as_of (a gap of a closed
--      period can no longer be closed), one per person and measure; gap text and action from
--      measures/outreach_actions.csv, leaving out measures it marks listed = false (utilisation
--      rates are not gaps); unknown measures show their id, with no action, not closable.
--      read_csv is DuckDB's reader (Spark/Trino: a reference table loaded from the same file).
--   7. ed_visits: emergency department encounters in the last $ed_lookback_days days.
--   8. priority_group: 1 transition of care; 2 tier complex or high; 3 tier rising with at least
--      one gap that can be closed now; NULL otherwise (not a candidate).
create or replace table marts.outreach_candidates as
with registry_row as (
    select
        *,
        row_number() over (
            partition by person_id
            order by enrolled_date desc nulls last, _source_file desc, _row_number desc
        ) as recency
    from staging.registry
),

registry_contact as (
    select
        person_id,
        first_value(phone ignore nulls) over latest_first as phone,
        first_value(preferred_contact ignore nulls) over latest_first as preferred_contact,
        max(case when opted_out then 1 else 0 end) over (partition by person_id) as opted_out_flag,
        recency
    from registry_row
    window latest_first as (
        partition by person_id
        order by recency
        rows between unbounded preceding and unbounded following
    )
),

registry_outreach as (
    select
        person_id,
        last_outreach_date,
        last_outreach_outcome,
        row_number() over (
            partition by person_id
            order by last_outreach_date desc, _source_file desc, _row_number desc
        ) as outreach_order
    from staging.registry
    where last_outreach_date is not null and last_outreach_date <= $as_of
),

registry_care_manager as (
    select
        person_id,
        care_manager_id,
        program,
        enrolled_date,
        row_number() over (
            partition by person_id
            order by enrolled_date desc nulls last, _source_file desc, _row_number desc
        ) as manager_order
    from staging.registry
    where
        care_manager_id is not null
        and trim(care_manager_id) <> ''
        and (enrolled_date is null or enrolled_date <= $as_of)
        and (disenrolled_date is null or disenrolled_date > $as_of)
),

registry_person as (
    select
        c.person_id,
        c.phone,
        c.preferred_contact,
        c.opted_out_flag = 1 as opted_out,
        o.last_outreach_date,
        o.last_outreach_outcome,
        m.care_manager_id,
        m.program as care_program,
        m.enrolled_date as care_program_enrolled_date
    from registry_contact as c
    left join registry_outreach as o on c.person_id = o.person_id and o.outreach_order = 1
    left join registry_care_manager as m on c.person_id = m.person_id and m.manager_order = 1
    where c.recency = 1
),

attribution_row as (
    select
        person_id,
        coalesce(custom_attributed_provider_practice, payer_attributed_provider_practice)
            as attributed_practice,
        row_number() over (
            partition by person_id
            order by
                replace(year_month, '-', '') desc,
                case when custom_attributed_provider_practice is not null then 0 else 1 end,
                _source_file desc,
                _row_number desc
        ) as recency
    from staging.provider_attribution
    where
        replace(year_month, '-', '')
        <= cast(extract(year from $as_of) * 100 + extract(month from $as_of) as varchar)
        and coalesce(custom_attributed_provider_practice, payer_attributed_provider_practice)
        is not null
),

attribution as (
    select
        person_id,
        attributed_practice
    from attribution_row
    where recency = 1
),

discharge_ordered as (
    select
        s.person_id,
        s.stay_id,
        s.discharge_date,
        s.discharge_disposition_code,
        coalesce(nullif(trim(e.facility_name), ''), s.facility_npi) as facility,
        row_number() over (
            partition by s.person_id
            order by s.discharge_date desc, s.admission_date desc, s.stay_id desc
        ) as recency
    from core.inpatient_stay as s
    left join staging.encounter as e on s.ehr_encounter_id = e.encounter_id
    where s.discharge_date <= $as_of
),

last_discharge as (
    select
        d.person_id,
        d.discharge_date,
        d.discharge_disposition_code,
        d.facility,
        exists (
            select 1
            from core.encounter as f
            where
                f.person_id = d.person_id
                and f.encounter_type in ('office', 'telehealth')
                and f.start_date > d.discharge_date
                and f.start_date <= $as_of
        ) as followed_up
    from discharge_ordered as d
    where d.recency = 1
),

risk_ordered as (
    select
        person_id,
        scoring_date,
        model_version,
        score,
        percentile,
        lower(trim(tier)) as tier,
        reason_1,
        reason_2,
        reason_3,
        row_number() over (
            partition by person_id
            order by scoring_date desc, model_version desc, score desc nulls last, tier
        ) as recency
    from {{ risk_scores }}
    where scoring_date is null or scoring_date <= $as_of
),

latest_risk as (
    select *
    from risk_ordered
    where recency = 1
),

outreach_action as (
    select
        trim(measure_id) as measure_id,
        gap_text,
        action,
        lower(trim(closable_now)) in ('true', 'yes', '1') as closable_now,
        lower(trim(listed)) in ('true', 'yes', '1') as listed
    from read_csv($outreach_actions_csv, header = true, all_varchar = true)
),

open_gap_measure as (
    select
        person_id,
        measure_id,
        min(period_end) as period_end
    from {{ measure_patient }}
    where
        gap_open
        and coalesce(in_denominator, true)
        and not coalesce(excluded, false)
        and period_start <= $as_of
        and period_end >= $as_of
    group by person_id, measure_id
),

open_gap as (
    select
        g.person_id,
        g.measure_id,
        g.period_end,
        coalesce(a.gap_text, 'Open care gap ' || g.measure_id) as gap_text,
        case when a.closable_now then a.action end as action,
        coalesce(a.closable_now, false) as closable_now
    from open_gap_measure as g
    left join outreach_action as a on g.measure_id = a.measure_id
    where coalesce(a.listed, true)
),

person_gaps as (
    select
        person_id,
        count(*) as open_gap_count,
        count(case when closable_now then 1 end) as closable_gap_count,
        string_agg(gap_text, '; ' order by measure_id) as open_gaps,
        string_agg(measure_id, ';' order by measure_id) as open_gap_measures,
        string_agg(action, '|' order by measure_id) as gap_actions,
        min(case when closable_now then period_end end) as gaps_close_by
    from open_gap
    group by person_id
),

ed_visits as (
    select
        person_id,
        count(*) as ed_visit_count
    from core.encounter
    where
        encounter_type = 'emergency_department'
        and start_date <= $as_of
        and date_diff('day', start_date, $as_of) < $ed_lookback_days
    group by person_id
),

candidate as (
    select
        p.person_id,
        p.first_name,
        p.last_name,
        p.birth_date,
        coalesce(r.phone, p.phone) as phone,
        p.preferred_language,
        r.preferred_contact,
        p.payer,
        a.attributed_practice,
        coalesce(r.opted_out, false) as opted_out,
        r.last_outreach_date,
        r.last_outreach_outcome,
        r.care_manager_id,
        r.care_program,
        r.care_program_enrolled_date,
        d.discharge_date as last_discharge_date,
        d.facility as last_discharge_facility,
        d.discharge_disposition_code as last_discharge_disposition,
        coalesce(d.followed_up, false) as followed_up_since_discharge,
        coalesce(
            d.discharge_date is not null
            and date_diff('day', d.discharge_date, $as_of) <= $transition_days
            and coalesce(d.discharge_disposition_code, '01') in ('01', '06', '07', '81', '86')
            and not d.followed_up,
            false
        ) as is_transition,
        k.scoring_date,
        k.model_version,
        k.score as risk_score,
        k.percentile as risk_percentile,
        k.tier as risk_tier,
        k.reason_1 as risk_reason_1,
        k.reason_2 as risk_reason_2,
        k.reason_3 as risk_reason_3,
        coalesce(g.open_gap_count, 0) as open_gap_count,
        coalesce(g.closable_gap_count, 0) as closable_gap_count,
        g.open_gaps,
        g.open_gap_measures,
        g.gap_actions,
        g.gaps_close_by,
        coalesce(v.ed_visit_count, 0) as ed_visit_count
    from core.person as p
    left join registry_person as r on p.person_id = r.person_id
    left join attribution as a on p.person_id = a.person_id
    left join last_discharge as d on p.person_id = d.person_id
    left join latest_risk as k on p.person_id = k.person_id
    left join person_gaps as g on p.person_id = g.person_id
    left join ed_visits as v on p.person_id = v.person_id
)

select
    *,
    case
        when is_transition then 1
        when risk_tier in ('complex', 'high') then 2
        when risk_tier = 'rising' and closable_gap_count > 0 then 3
    end as priority_group
from candidate
order by person_id;
