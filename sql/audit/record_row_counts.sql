-- audit.row_counts <- row_count_rows (table_name, row_count; registered by
-- pipelines/publication.py): the counts of a run that published its outreach lists. A re-run for
-- the same as-of date replaces that date's counts, so the table holds one row per date and table.
delete from audit.row_counts
where as_of = $as_of;

insert into audit.row_counts (run_id, as_of, table_name, row_count, recorded_at)
select
    $run_id as run_id,
    cast($as_of as date) as as_of,
    r.table_name,
    r.row_count,
    cast($recorded_at as timestamp) as recorded_at
from row_count_rows as r;
