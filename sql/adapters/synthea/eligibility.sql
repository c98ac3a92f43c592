-- converted.eligibility <- payer_transitions.csv + payers.csv (+ converted.patient): one row per
-- person and continuous coverage by one primary payer.
-- Steps:
--   1. coverage per transition row, as inclusive dates:
--        date-based export (START_DATE/END_DATE): END_DATE is the instant the next plan starts,
--          so the last covered day is END_DATE - 1 day;
--        year-based export (START_YEAR/END_YEAR, both inclusive in Synthea's data dictionary):
--          1 January START_YEAR to 31 December END_YEAR;
--   2. overlaps trimmed: a row ends no later than the day before the person's next row starts
--      (year-based exports repeat the switch-over year on both rows); a row left with no day at
--      all (two rows starting the same day) gives way to the later one;
--   3. payer = payers.csv NAME; payer_type from the name first, then payers.csv OWNERSHIP:
--        name contains 'dual' -> dual; 'medicaid' -> medicaid; 'medicare' -> medicare;
--        NO_INSURANCE (name or ownership) -> self-pay; other GOVERNMENT payer -> null (unknown);
--        any other payer (PRIVATE, or no OWNERSHIP column in older exports) -> commercial;
--   4. contiguous rows of one payer merged (gaps and islands: a new span starts when the payer
--      changes or at least one day is uncovered); member_id and subscriber_relation (the policy
--      owner: self, spouse, guardian) come from the span's latest row;
--   5. a span ends at death (Synthea lets the plan year run past it); spans starting after death
--      are dropped;
--   6. demographics copied from converted.patient. SECONDARY_PAYER is not carried (one row per
--      primary payer span, see docs/synthea-adapter.md).
create or replace table converted.eligibility as
with transition as (
    select
        t.patient as person_id,
        t.memberid as member_id,
        t.payer as payer_id,
        lower(t.ownership) as subscriber_relation,
        coalesce(cast(t.start_date as date), make_date(t.start_year, 1, 1)) as coverage_start,
        coalesce(cast(t.end_date as date) - 1, make_date(t.end_year, 12, 31)) as coverage_end
    from synthea.payer_transitions as t
),

trimmed as (
    select
        *,
        least(
            coverage_end,
            lead(coverage_start) over (
                partition by person_id order by coverage_start, coverage_end, payer_id
            ) - 1
        ) as covered_through
    from transition
),

covered as (
    select *
    from trimmed
    where covered_through is null or covered_through >= coverage_start
),

span_boundary as (
    select
        *,
        case
            when payer_id = lag(payer_id) over by_person
                and coverage_start <= lag(covered_through) over by_person + 1
                then 0
            else 1
        end as starts_span
    from covered
    window by_person as (partition by person_id order by coverage_start)
),

span_numbered as (
    select
        *,
        sum(starts_span) over (
            partition by person_id order by coverage_start rows unbounded preceding
        ) as span_number
    from span_boundary
),

coverage_span as (
    select
        person_id,
        span_number,
        payer_id,
        min(coverage_start) as enrollment_start_date,
        case
            when bool_or(covered_through is null) then null
            else max(covered_through)
        end as enrollment_end_date,
        arg_max_null(member_id, coverage_start) as member_id,
        arg_max_null(subscriber_relation, coverage_start) as subscriber_relation
    from span_numbered
    group by person_id, span_number, payer_id
),

payer as (
    select
        id as payer_id,
        name as payer,
        case
            when lower(name) like '%dual%' then 'dual'
            when lower(name) like '%medicaid%' then 'medicaid'
            when lower(name) like '%medicare%' then 'medicare'
            when upper(name) = 'NO_INSURANCE' or upper(ownership) = 'NO_INSURANCE' then 'self-pay'
            when upper(ownership) = 'GOVERNMENT' then null
            else 'commercial'
        end as payer_type
    from synthea.payers
)

select
    s.person_id,
    s.member_id,
    p.sex as gender,
    p.race,
    p.birth_date,
    p.death_date,
    p.death_flag,
    s.enrollment_start_date,
    least(s.enrollment_end_date, p.death_date) as enrollment_end_date,
    coalesce(payer.payer, s.payer_id) as payer,
    payer.payer_type,
    p.name_suffix,
    p.first_name,
    p.middle_name,
    p.last_name,
    s.subscriber_relation,
    p.address,
    p.city,
    p.state,
    p.zip_code,
    p.ethnicity,
    'synthea' as data_source,
    'payer_transitions.csv' as file_name
from coverage_span as s
left join converted.patient as p on p.person_id = s.person_id
left join payer on payer.payer_id = s.payer_id
where p.death_date is null or s.enrollment_start_date <= p.death_date;
