-- Files of one raw table whose row count differs from what their latest load logged as loaded.
-- Steps: 1. the latest 'loaded' log row per file; 2. the rows each file has in raw.<table>;
--        3. files where the two disagree (a row lost or duplicated between load and now).
with latest_load as (
    select
        source_file,
        arg_max(rows_loaded, loaded_at) as rows_logged
    from audit.load_log
    where table_name = $table_name and status = 'loaded'
    group by source_file
),

rows_present as (
    select
        _source_file as source_file,
        count(*) as rows_in_table
    from raw.{{ table }}
    group by _source_file
)

select
    coalesce(l.source_file, p.source_file) as source_file,
    coalesce(l.rows_logged, 0) as rows_logged,
    coalesce(p.rows_in_table, 0) as rows_in_table
from latest_load as l
full outer join rows_present as p on l.source_file = p.source_file
where coalesce(l.rows_logged, 0) <> coalesce(p.rows_in_table, 0)
order by 1
