-- The rows pipelines/outreach.py ranks and assigns (a query, not a table): every candidate in a
-- priority group who is not suppressed, plus those routed to their care manager
-- (marts.outreach_suppressed.outcome = 'routed_to_care_manager'), with routed_to_care_manager set.
-- Ordered by person_id so the Python ranking sees the same input order on every run.
with person_outcome as (
    select
        person_id,
        min(outcome) as outcome
    from marts.outreach_suppressed
    group by person_id
)

select
    c.*,
    coalesce(o.outcome = 'routed_to_care_manager', false) as routed_to_care_manager
from marts.outreach_candidates as c
left join person_outcome as o on c.person_id = o.person_id
where
    c.priority_group is not null
    and (o.outcome is null or o.outcome = 'routed_to_care_manager')
order by c.person_id;
