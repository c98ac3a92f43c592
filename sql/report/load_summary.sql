-- Report: load bookkeeping per input table. Per-file reconciliation (audit.file_reconciliation:
-- rows read = rows loaded + rows quarantined) for the files currently in the warehouse, and the
-- load history (audit.load_log: one row per load of a file) for when they last changed.
-- Steps: 1. reconciled: files and rows per table; 2. loads: loads logged and the latest one;
--        3. joined per table (a table may appear in only one of the two).
with reconciled as (
    select
        table_name,
        count(*) as files,
        sum(rows_read) as rows_read,
        sum(rows_loaded) as rows_loaded,
        sum(rows_quarantined) as rows_quarantined,
        count(*) filter (where not balanced) as files_unbalanced
    from audit.file_reconciliation
    group by table_name
),

loads as (
    select
        table_name,
        count(*) as loads_logged,
        max(loaded_at) as last_loaded_at
    from audit.load_log
    group by table_name
)

select
    coalesce(r.table_name, l.table_name) as table_name,
    coalesce(r.files, 0) as files,
    coalesce(r.rows_read, 0) as rows_read,
    coalesce(r.rows_loaded, 0) as rows_loaded,
    coalesce(r.rows_quarantined, 0) as rows_quarantined,
    coalesce(r.files_unbalanced, 0) as files_unbalanced,
    coalesce(l.loads_logged, 0) as loads_logged,
    l.last_loaded_at
from reconciled as r
full outer join loads as l on r.table_name = l.table_name
order by table_name
