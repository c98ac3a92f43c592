-- Report: rows refused at staging (audit.quarantine), counted by table and rule. One quarantine
-- entry per rejected row and failed rule, so a row failing two rules counts under both;
-- quarantined_rows counts each (file, row number) once. Never the row itself: raw_row and detail
-- stay in audit.
select
    table_name,
    rule,
    count(*) as entries,
    count(distinct source_file || ':' || cast(row_number as varchar)) as quarantined_rows
from audit.quarantine
group by table_name, rule
order by table_name, rule
