-- Composite exclusions: the first exclusion (in the definition's order) a unit meets gives the
-- exclusion reason and evidence. Only met branches leave a row.
with branch_row as (
{{ branch_rows }}
),

ranked as (
    select
        *,
        row_number() over (partition by unit_id order by branch) as pick
    from branch_row
    where met
)

select
    unit_id,
    met,
    event_date,
    evidence,
    quantity,
    reason
from ranked
where pick = 1
