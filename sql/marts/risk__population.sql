-- {{ schema }}.risk__population <- core.person, core.enrollment, core.member_months,
-- core.inpatient_stay: the rows the risk model describes, one per person and scoring date.
-- Grain: person_id, scoring_date.
-- Parameters: $population ('everyone' | 'discharged'); $scoring_dates (list of dates, for
-- 'everyone'); $discharge_from, $discharge_to (inclusive discharge dates, for 'discharged');
-- $horizon_days (the label's horizon; horizon_end = scoring_date + horizon); $sample_permille
-- (1000 = everyone; training on very large populations keeps a deterministic share of people,
-- chosen by DuckDB's hash of the person_id: the same people at every scoring date).
-- Steps:
--   1. everyone: every person at every scoring date who is born, not dead (death_date after the
--      scoring date; a person flagged deceased without a credible date is never scored) and
--      enrolled on that day when the person has any coverage span (core.enrollment); people
--      without eligibility rows (known to the EHR only) are kept with has_eligibility = 0
--      (the issue: "alive and enrolled, where eligibility is known").
--   2. discharged (the 30-day readmission configuration): every acute stay discharged alive
--      between $discharge_from and $discharge_to that is not a transfer out (the receiving
--      stay is the index; CMS hospital-wide readmission measure), scored on its discharge date;
--      one row per person and day (the latest discharge's stay is index_stay_id).
--   3. coverage at the scoring date from core.member_months (the month containing it):
--      payer_type and dual_status_code (core.person holds the latest values, which would leak
--      coverage changes after a past scoring date); enrolled_months_12m = member months starting
--      in the 12 months up to the scoring date.
--   4. age in whole years at the scoring date (as core.person computes age_as_of); windows:
--      window_6m_start = scoring_date - 182 days, window_12m_start = scoring_date - 365 days
--      (exclusive lower bounds: an event counts when window_start < event date <= scoring_date).
create or replace table {{ schema }}.risk__population as
with scoring_day as (
    select distinct cast(d.scoring_date as date) as scoring_date
    from (select unnest(cast($scoring_dates as date[])) as scoring_date) as d
    where $population = 'everyone'
),

eligibility_known as (
    select distinct person_id from core.enrollment
),

everyone_row as (
    select
        p.person_id,
        s.scoring_date,
        cast(null as varchar) as index_stay_id
    from core.person as p
    cross join scoring_day as s
    where
        p.birth_date <= s.scoring_date
        and (cast($sample_permille as integer) >= 1000 or hash(p.person_id) % 1000 < $sample_permille)
        and (p.death_date is null or p.death_date > s.scoring_date)
        and not (p.is_deceased and p.death_date is null)
        and (
            p.person_id not in (select person_id from eligibility_known)
            or exists (
                select 1 from core.enrollment as e
                where
                    e.person_id = p.person_id
                    and e.enrollment_start_date <= s.scoring_date
                    and e.enrollment_end_date >= s.scoring_date
            )
        )
),

discharge_row as (
    select
        st.person_id,
        st.discharge_date as scoring_date,
        max(st.stay_id) as index_stay_id
    from core.inpatient_stay as st
    inner join core.person as p on st.person_id = p.person_id
    where
        $population = 'discharged'
        and st.discharge_date between cast($discharge_from as date) and cast($discharge_to as date)
        and not st.is_transfer_out
        and coalesce(st.discharge_disposition_code, '') not in ('20', '40', '41', '42')
        and (p.death_date is null or p.death_date > st.discharge_date)
        and (cast($sample_permille as integer) >= 1000 or hash(p.person_id) % 1000 < $sample_permille)
    group by st.person_id, st.discharge_date
),

scored_row as (
    select * from everyone_row
    union all
    select * from discharge_row
),

coverage_month as (
    select
        r.person_id,
        r.scoring_date,
        m.payer_type,
        m.dual_status_code
    from scored_row as r
    inner join core.member_months as m
        on
            r.person_id = m.person_id
            and m.month_start_date = cast(date_trunc('month', r.scoring_date) as date)
),

coverage_12m as (
    select
        r.person_id,
        r.scoring_date,
        count(*) as enrolled_months_12m
    from scored_row as r
    inner join core.member_months as m
        on
            r.person_id = m.person_id
            and m.month_start_date > r.scoring_date - interval '365' day
            and m.month_start_date <= r.scoring_date
    group by r.person_id, r.scoring_date
)

select
    r.person_id,
    r.scoring_date,
    r.index_stay_id,
    p.sex,
    p.birth_date,
    extract(year from r.scoring_date) - extract(year from p.birth_date)
    - case
        when
            extract(month from r.scoring_date) < extract(month from p.birth_date)
            or (
                extract(month from r.scoring_date) = extract(month from p.birth_date)
                and extract(day from r.scoring_date) < extract(day from p.birth_date)
            )
            then 1
        else 0
    end as age,
    p.race,
    p.ethnicity,
    coalesce(c.payer_type, case when ek.person_id is null then 'unknown' else 'not_enrolled' end)
        as payer_type,
    c.dual_status_code,
    p.original_reason_entitlement_code,
    ek.person_id is not null as has_eligibility,
    coalesce(p.in_patient, false) as in_ehr,
    coalesce(c12.enrolled_months_12m, 0) as enrolled_months_12m,
    cast(r.scoring_date - interval '182' day as date) as window_6m_start,
    cast(r.scoring_date - interval '365' day as date) as window_12m_start,
    cast(r.scoring_date + cast($horizon_days as integer) * interval '1' day as date) as horizon_end
from scored_row as r
inner join core.person as p on r.person_id = p.person_id
left join eligibility_known as ek on r.person_id = ek.person_id
left join coverage_month as c on r.person_id = c.person_id and r.scoring_date = c.scoring_date
left join coverage_12m as c12 on r.person_id = c12.person_id and r.scoring_date = c12.scoring_date
order by r.scoring_date, r.person_id;
