-- Unit block person: every person in core.person is a candidate unit (the measure's population
-- criteria narrow it). unit_id = person_id; no episode, no anchor date.
-- Output: unit_id, person_id, episode_id, anchor_date, unit_label.
select
    p.person_id as unit_id,
    p.person_id,
    cast(null as varchar) as episode_id,
    cast(null as date) as anchor_date,
    cast(null as varchar) as unit_label
from core.person as p
