-- Report: who was kept off the outreach lists (marts.outreach_suppressed), by reason and outcome.
-- primary_persons counts each person once, under their first reason in precedence order;
-- any_persons counts everyone the reason applies to.
select
    reason,
    outcome,
    min(reason_order) as reason_order,
    count(distinct person_id) filter (where is_primary) as primary_persons,
    count(distinct person_id) as any_persons
from marts.outreach_suppressed
group by reason, outcome
order by reason_order, outcome
