-- Composite any_of / all_of: combines the rows of the branch criteria per unit.
-- any_of: met when a branch is met; the evidence is the latest met branch's.
-- all_of: met when every branch is met; the evidence lists every branch (when met) or the
-- branches that fail, with their "missing" text for branches that found nothing.
-- Units with no row in any branch get no row (the caller's own "missing" text applies).
with branch_row as (
{{ branch_rows }}
),

seen as (
    select distinct unit_id from branch_row
),

filled as (
    select
        unit_id,
        branch,
        met,
        event_date,
        evidence,
        quantity
    from branch_row

    union all

    select
        u.unit_id,
        b.branch,
        false as met,
        cast(null as date) as event_date,
        {{ branch_missing }} as evidence,
        cast(null as double) as quantity
    from {{ unit }} as u
    inner join seen as s on u.unit_id = s.unit_id
    cross join (values {{ branch_numbers }}) as b (branch)
    where not exists (
        select 1 from branch_row as r where r.unit_id = u.unit_id and r.branch = b.branch
    )
),

judged as (
    select
        unit_id,
        {{ met_rule }} as combined_met
    from filled
    group by unit_id
),

ranked as (
    select
        f.*,
        j.combined_met,
        row_number() over (
            partition by f.unit_id
            order by case when f.met then 0 else 1 end, f.event_date desc nulls last, f.branch
        ) as pick
    from filled as f
    inner join judged as j on f.unit_id = j.unit_id
)

select
    unit_id,
    combined_met as met,
    case
        when {{ is_any }} and combined_met then max(case when pick = 1 then event_date end)
        else max(event_date)
    end as event_date,
    case
        when {{ is_any }} and combined_met then max(case when pick = 1 then evidence end)
        else
            string_agg(
                case when combined_met or not met then evidence end, '; ' order by branch
            )
    end as evidence,
    max(case when pick = 1 then quantity end) as quantity
from ranked
group by unit_id, combined_met
