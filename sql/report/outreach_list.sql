-- Report: outreach list sizes (marts.outreach_list) by team, priority group and assignment
-- (coordinator, care_manager, over_capacity). Counts of rows, one row per person on a list.
select
    team,
    priority_group,
    assignment,
    count(*) as persons
from marts.outreach_list
group by team, priority_group, assignment
order by team, priority_group, assignment
