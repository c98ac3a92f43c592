-- marts.outreach_suppressed <- marts.outreach_candidates, core.person, core.enrollment,
-- core.encounter, core.inpatient_stay, core.member_months: who would be on the outreach list (a
-- priority group) but must not be called by a coordinator today, and why.
-- Grain: person_id, reason (one row per person and reason that applies; a person with several
-- reasons is listed under each). Reasons, in precedence order (reason_order):
--   1 deceased: core.person.is_deceased (a credible death date on or before $as_of from
--     eligibility, patient or a claim with NUBC patient status 20/40/41/42, or a death flag), or
--     any encounter or stay discharged on or before $as_of with status 20/40/41/42 (EHR stays
--     carry a status core.person does not read).
--   2 hospice: a hospice encounter (bill type 81x/82x or an EHR hospice encounter) overlapping
--     $as_of; or one that ended within the last $hospice_lookback_days days with no acute,
--     observation, office or telehealth encounter starting after it (curative care after hospice
--     means hospice was revoked); or the eligibility hospice_flag in the as-of month
--     (core.member_months); or a discharge to hospice (NUBC 50 home, 51 facility) on or before
--     $as_of with no such care after it (Medicare Advantage plans often never see the hospice
--     claims, which Original Medicare pays).
--   3 not_enrolled: the person is in eligibility but no merged coverage span (core.enrollment)
--     covers $as_of. EHR-only persons (no eligibility at all) are not suppressed for this: the
--     health system, not a payer, owns them.
--   4 currently_inpatient: an acute stay admitted on or before $as_of and not yet discharged
--     (discharge NULL or after $as_of), or whose last claim says "still a patient" (NUBC 30,
--     interim billing) with a through date within the last $still_a_patient_days days. A stay
--     discharged on the as-of date itself is a discharge (transition of care), not a current
--     stay: the list is read the next morning.
--   5 opted_out: any registry row with opted_out.
--   6 recently_contacted: the registry's last outreach is at most $recent_contact_days days
--     before $as_of - unless the person is in priority group 1 and was discharged after that
--     outreach (a new discharge is a new reason to call).
--   7 in_care_management: enrolled in a care-management programme on $as_of with an assigned care
--     manager (registry). Not dropped: when this is the person's only reason, outcome =
--     'routed_to_care_manager' and the person goes to that manager's list.
-- is_primary marks the person's first reason in precedence order; the manifest and the asset
-- metadata count persons by primary reason. outcome is the same on every row of a person:
-- 'routed_to_care_manager' when in_care_management is the only reason, else 'suppressed'.
create or replace table marts.outreach_suppressed as
with candidate as (
    select
        person_id,
        priority_group,
        last_discharge_date,
        opted_out,
        last_outreach_date,
        last_outreach_outcome,
        care_manager_id,
        care_program,
        care_program_enrolled_date
    from marts.outreach_candidates
    where priority_group is not null
),

later_care as (
    select
        person_id,
        start_date
    from core.encounter
    where
        encounter_type in ('acute_inpatient', 'observation', 'office', 'telehealth')
        and start_date <= $as_of
),

deceased as (
    select
        c.person_id,
        'deceased' as reason,
        1 as reason_order,
        case
            when p.death_date is not null
                then 'death date ' || cast(p.death_date as varchar) || ' (' || p.death_source || ')'
            else 'death flag set'
        end as detail
    from candidate as c
    inner join core.person as p on c.person_id = p.person_id
    where p.is_deceased
    union all
    select
        c.person_id,
        'deceased' as reason,
        1 as reason_order,
        'discharge status ' || min(e.discharge_disposition_code) || ' (expired) on '
        || cast(min(coalesce(e.end_date, e.start_date)) as varchar) as detail
    from candidate as c
    inner join core.encounter as e on c.person_id = e.person_id
    inner join core.person as p on c.person_id = p.person_id
    where
        e.discharge_disposition_code in ('20', '40', '41', '42')
        and coalesce(e.end_date, e.start_date) <= $as_of
        and not p.is_deceased
    group by c.person_id
),

hospice_encounter as (
    select
        c.person_id,
        e.start_date,
        coalesce(e.end_date, e.start_date) as end_date
    from candidate as c
    inner join core.encounter as e on c.person_id = e.person_id
    where e.encounter_type = 'hospice' and e.start_date <= $as_of
),

hospice_evidence as (
    select
        person_id,
        'hospice care from ' || cast(start_date as varchar) || ' through the as-of date' as detail
    from hospice_encounter
    where end_date >= $as_of
    union all
    select
        h.person_id,
        'hospice care ended ' || cast(h.end_date as varchar) || ', no curative care since'
            as detail
    from hospice_encounter as h
    where
        h.end_date < $as_of
        and date_diff('day', h.end_date, $as_of) <= $hospice_lookback_days
        and not exists (
            select 1
            from later_care as l
            where l.person_id = h.person_id and l.start_date > h.end_date
        )
    union all
    select
        c.person_id,
        'eligibility hospice flag in the as-of month' as detail
    from candidate as c
    inner join core.member_months as m on c.person_id = m.person_id
    where
        m.hospice_flag = 1
        and m.year_month
        = cast(extract(year from $as_of) * 100 + extract(month from $as_of) as varchar)
    union all
    select
        c.person_id,
        'discharged to hospice (status ' || e.discharge_disposition_code || ') on '
        || cast(coalesce(e.end_date, e.start_date) as varchar) || ', no curative care since'
            as detail
    from candidate as c
    inner join core.encounter as e on c.person_id = e.person_id
    where
        e.discharge_disposition_code in ('50', '51')
        and coalesce(e.end_date, e.start_date) <= $as_of
        and not exists (
            select 1
            from later_care as l
            where l.person_id = e.person_id and l.start_date > coalesce(e.end_date, e.start_date)
        )
),

hospice as (
    select
        person_id,
        'hospice' as reason,
        2 as reason_order,
        string_agg(detail, '; ' order by detail) as detail
    from hospice_evidence
    group by person_id
),

not_enrolled as (
    select
        c.person_id,
        'not_enrolled' as reason,
        3 as reason_order,
        'no coverage span on the as-of date' as detail
    from candidate as c
    inner join core.person as p on c.person_id = p.person_id
    where
        p.in_eligibility
        and not exists (
            select 1
            from core.enrollment as n
            where
                n.person_id = c.person_id
                and n.enrollment_start_date <= $as_of
                and n.enrollment_end_date >= $as_of
        )
),

currently_inpatient as (
    select
        c.person_id,
        'currently_inpatient' as reason,
        4 as reason_order,
        'admitted ' || cast(max(s.admission_date) as varchar) || ', not discharged' as detail
    from candidate as c
    inner join core.inpatient_stay as s on c.person_id = s.person_id
    where
        s.admission_date <= $as_of
        and (
            s.discharge_date is null
            or s.discharge_date > $as_of
            or (
                s.discharge_disposition_code = '30'
                and date_diff('day', s.discharge_date, $as_of) <= $still_a_patient_days
            )
        )
    group by c.person_id
),

opted_out as (
    select
        person_id,
        'opted_out' as reason,
        5 as reason_order,
        'opted out of outreach in the registry' as detail
    from candidate
    where opted_out
),

recently_contacted as (
    select
        person_id,
        'recently_contacted' as reason,
        6 as reason_order,
        'last outreach ' || cast(last_outreach_date as varchar)
        || coalesce(' (' || last_outreach_outcome || ')', '') as detail
    from candidate
    where
        last_outreach_date is not null
        and date_diff('day', last_outreach_date, $as_of) <= $recent_contact_days
        and not (priority_group = 1 and last_discharge_date > last_outreach_date)
),

in_care_management as (
    select
        person_id,
        'in_care_management' as reason,
        7 as reason_order,
        'care manager ' || care_manager_id
        || coalesce(', programme ' || care_program, '')
        || coalesce(' since ' || cast(care_program_enrolled_date as varchar), '') as detail
    from candidate
    where care_manager_id is not null
),

suppression as (
    select * from deceased
    union all
    select * from hospice
    union all
    select * from not_enrolled
    union all
    select * from currently_inpatient
    union all
    select * from opted_out
    union all
    select * from recently_contacted
    union all
    select * from in_care_management
),

suppression_ranked as (
    select
        *,
        row_number() over (partition by person_id order by reason_order) as precedence,
        min(reason_order) over (partition by person_id) as first_reason_order
    from suppression
)

select
    person_id,
    reason,
    reason_order,
    detail,
    precedence = 1 as is_primary,
    case
        when first_reason_order = 7 then 'routed_to_care_manager'
        else 'suppressed'
    end as outcome
from suppression_ranked
order by person_id, reason_order;
