-- The count of one table in the last published run (audit.row_counts), newest first; no row
-- before the first published run.
select
    row_count,
    as_of,
    run_id,
    recorded_at
from audit.row_counts
where table_name = $table_name
order by recorded_at desc, as_of desc
limit 1;
