-- core.enrollment <- staging.eligibility: merged coverage spans per person and payer type.
-- Grain: person_id, payer_type, enrollment_start_date (one row per merged span).
-- Steps:
--   1. coverage_span: eligibility spans with end >= start (staging refuses the others).
--   2. gaps and islands per person and payer_type, spans ordered by start: a span starts a new
--      island when it begins more than one day after the latest end seen so far. Overlapping
--      spans and contiguous ones (start = previous end + 1 day) merge; a gap of one day or more
--      (start >= previous end + 2 days) splits. This is the HEDIS notion of continuous enrolment
--      before its allowable-gap rule, which the measures apply themselves.
--   3. island: start = earliest start, end = latest end; payer and plan of the island's most
--      recent span (latest start, then latest end, then file/row); source_span_count.
--   4. member_months: calendar months with at least one covered day between the island's start
--      and the earlier of its end and $as_of (months after the as-of date are not yet earned);
--      0 when the island starts after $as_of. Same "any day of the month" rule as
--      core.member_months.
create or replace table core.enrollment as
with coverage_span as (
    select
        person_id,
        payer_type,
        payer,
        plan,
        enrollment_start_date as span_start,
        enrollment_end_date as span_end,
        _source_file,
        _row_number
    from staging.eligibility
    where enrollment_end_date >= enrollment_start_date
),

span_ordered as (
    select
        *,
        max(span_end) over (
            partition by person_id, payer_type
            order by span_start, span_end, _source_file, _row_number
            rows between unbounded preceding and 1 preceding
        ) as covered_through
    from coverage_span
),

span_flagged as (
    select
        *,
        case
            when covered_through is null then 1
            when span_start > covered_through + interval 1 day then 1
            else 0
        end as starts_island
    from span_ordered
),

span_island as (
    select
        *,
        sum(starts_island) over (
            partition by person_id, payer_type
            order by span_start, span_end, _source_file, _row_number
            rows unbounded preceding
        ) as island_number
    from span_flagged
),

island_latest_span as (
    select
        person_id,
        payer_type,
        island_number,
        payer,
        plan,
        row_number() over (
            partition by person_id, payer_type, island_number
            order by span_start desc, span_end desc, _source_file desc, _row_number desc
        ) as recency
    from span_island
),

island as (
    select
        person_id,
        payer_type,
        island_number,
        min(span_start) as enrollment_start_date,
        max(span_end) as enrollment_end_date,
        count(*) as source_span_count
    from span_island
    group by person_id, payer_type, island_number
),

island_earned as (
    select
        i.*,
        l.payer,
        l.plan,
        case when i.enrollment_end_date < $as_of then i.enrollment_end_date else $as_of end
            as earned_through
    from island as i
    inner join island_latest_span as l
        on
            i.person_id = l.person_id
            and i.payer_type is not distinct from l.payer_type
            and i.island_number = l.island_number
            and l.recency = 1
)

select
    person_id,
    payer_type,
    payer,
    plan,
    enrollment_start_date,
    enrollment_end_date,
    case
        when enrollment_start_date > earned_through then 0
        else
            (extract(year from earned_through) * 12 + extract(month from earned_through))
            - (extract(year from enrollment_start_date) * 12
                + extract(month from enrollment_start_date))
            + 1
    end as member_months,
    source_span_count
from island_earned
order by person_id, payer_type, enrollment_start_date;
