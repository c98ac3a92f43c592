-- core.member_months <- staging.eligibility: one row per person and calendar month in which the
-- person was enrolled on at least one day, up to the month containing $as_of.
-- Grain: person_id, year_month ('YYYYMM', as provider_attribution.year_month).
-- Steps:
--   1. coverage_span: eligibility spans with end >= start that begin on or before $as_of.
--   2. month_spine: every calendar month from the earliest span start to the month of the
--      earlier of the latest span end and $as_of.
--      generate_series is DuckDB's table function; sqlglot carries it to Spark as
--      explode(sequence(...)) and to Trino as unnest(sequence(...)).
--   3. a person-month exists when any span covers any day of the month ("any day" rule: the CMS
--      enrollment-month convention used for member-month denominators; HEDIS continuous-enrolment
--      checks read the spans in core.enrollment instead).
--   4. when several spans cover a month (dual coverage, a mid-month switch), payer, payer_type
--      and plan come from the span covering the most days of the month (then the later start,
--      then file/row); dual_status_code is the most recent known value among the covering spans;
--      hospice_flag and long_term_institutional_flag are 1 when any covering span says 1;
--      payer_type_count says how many payer types covered the month.
create or replace table core.member_months as
with coverage_span as (
    select
        person_id,
        payer,
        payer_type,
        plan,
        dual_status_code,
        hospice_flag,
        long_term_institutional_flag,
        enrollment_start_date as span_start,
        enrollment_end_date as span_end,
        _source_file,
        _row_number
    from staging.eligibility
    where enrollment_end_date >= enrollment_start_date and enrollment_start_date <= $as_of
),

spine_bound as (
    select
        cast(date_trunc('month', min(span_start)) as date) as first_month,
        cast(
            date_trunc('month', case when max(span_end) < $as_of then max(span_end) else $as_of end)
            as date
        ) as last_month
    from coverage_span
),

month_spine as (
    select cast(m.month_start as date) as month_start
    from spine_bound as b
    cross join generate_series(b.first_month, b.last_month, interval 1 month) as m (month_start)
    where b.first_month is not null
),

span_month as (
    select
        s.*,
        m.month_start,
        date_diff(
            'day',
            case when s.span_start > m.month_start then s.span_start else m.month_start end,
            case
                when s.span_end < m.month_start + interval 1 month - interval 1 day
                    then s.span_end
                else cast(m.month_start + interval 1 month - interval 1 day as date)
            end
        ) + 1 as covered_days
    from coverage_span as s
    inner join month_spine as m
        on s.span_start < m.month_start + interval 1 month and s.span_end >= m.month_start
),

span_month_ranked as (
    select
        *,
        row_number() over (
            partition by person_id, month_start
            order by covered_days desc, span_start desc, _source_file desc, _row_number desc
        ) as span_rank,
        first_value(dual_status_code ignore nulls) over (
            partition by person_id, month_start
            order by span_start desc, span_end desc, _source_file desc, _row_number desc
            rows between unbounded preceding and unbounded following
        ) as month_dual_status_code
    from span_month
),

month_coverage as (
    select
        person_id,
        month_start,
        max(hospice_flag) as hospice_flag,
        max(long_term_institutional_flag) as long_term_institutional_flag,
        count(distinct payer_type) as payer_type_count
    from span_month
    group by person_id, month_start
)

select
    r.person_id,
    cast(extract(year from r.month_start) * 100 + extract(month from r.month_start) as varchar)
        as year_month,
    r.month_start as month_start_date,
    r.payer,
    r.payer_type,
    r.plan,
    r.month_dual_status_code as dual_status_code,
    c.hospice_flag,
    c.long_term_institutional_flag,
    c.payer_type_count
from span_month_ranked as r
inner join month_coverage as c on r.person_id = c.person_id and r.month_start = c.month_start
where r.span_rank = 1
order by r.person_id, r.month_start;
