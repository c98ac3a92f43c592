-- Block continuous_enrollment: the person was covered through the window with at most max_gaps
-- gaps of at most max_gap_days each, and (enrolled_at_end) covered on the window's last day.
-- Params: window (default the period), max_gaps (1), max_gap_days (45), enrolled_at_end (true).
-- Rules:
--   1. HEDIS continuous enrolment: "no more than one gap in enrollment of up to 45 days" and
--      enrolled on the anchor date (the last day of the window).
--   2. spans of every payer type count (a switch from commercial to Medicare at 65 is not a gap);
--      core.enrollment spans are merged again across payer types here.
--   3. the window ends at the as-of date when the period is still open (year to date): coverage
--      after the as-of date is not yet known.
--   4. a gap is any run of uncovered days inside the window: before the first span, between
--      spans, after the last one.
with bound as (
    select
        u.unit_id,
        u.person_id,
        cast({{ window_from }} as date) as window_start,
        least(cast({{ window_to }} as date), cast($as_of as date)) as window_end
    from {{ unit }} as u
),

span as (
    select
        b.unit_id,
        b.window_start,
        b.window_end,
        greatest(e.enrollment_start_date, b.window_start) as span_start,
        least(e.enrollment_end_date, b.window_end) as span_end
    from bound as b
    inner join core.enrollment as e on b.person_id = e.person_id
    where
        e.enrollment_start_date <= b.window_end
        and e.enrollment_end_date >= b.window_start
),

span_ordered as (
    select
        *,
        max(span_end) over (
            partition by unit_id
            order by span_start, span_end
            rows between unbounded preceding and 1 preceding
        ) as covered_through
    from span
),

coverage as (
    select
        unit_id,
        min(window_start) as window_start,
        min(window_end) as window_end,
        min(span_start) as first_start,
        max(span_end) as last_end
    from span
    group by unit_id
),

gap as (
    select
        unit_id,
        date_diff('day', covered_through, span_start) - 1 as gap_days
    from span_ordered
    where date_diff('day', covered_through, span_start) > 1

    union all

    select
        unit_id,
        date_diff('day', window_start, first_start) as gap_days
    from coverage
    where first_start > window_start

    union all

    select
        unit_id,
        date_diff('day', last_end, window_end) as gap_days
    from coverage
    where last_end < window_end
),

gap_summary as (
    select
        c.unit_id,
        c.window_start,
        c.window_end,
        c.last_end,
        count(g.gap_days) as gap_count,
        coalesce(max(g.gap_days), 0) as longest_gap
    from coverage as c
    left join gap as g on c.unit_id = g.unit_id
    group by c.unit_id, c.window_start, c.window_end, c.last_end
)

select
    unit_id,
    gap_count <= {{ max_gaps }}
    and longest_gap <= {{ max_gap_days }}
    and (not {{ enrolled_at_end }} or last_end = window_end) as met,
    window_end as event_date,
    case
        when gap_count = 0
            then
                'enrolled ' || cast(window_start as varchar) || ' to '
                || cast(window_end as varchar)
        else
            'enrolment gaps ' || cast(gap_count as varchar) || ' (longest '
            || cast(longest_gap as varchar) || ' days) between '
            || cast(window_start as varchar) || ' and ' || cast(window_end as varchar)
    end as evidence,
    cast(gap_count as double) as quantity
from gap_summary
