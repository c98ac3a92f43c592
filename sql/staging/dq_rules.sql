-- Quarantine and correction counts per table, rule and column, for the data-quality report.
select 'quarantined' as outcome, table_name, rule, coalesce(column_name, '(whole row)') as column_name,
    count(*) as entries
from audit.quarantine
group by table_name, rule, column_name
union all
select 'corrected' as outcome, table_name, rule, column_name, count(*) as entries
from audit.corrections
group by table_name, rule, column_name
order by outcome desc, table_name, entries desc, rule, column_name
