-- audit.file_reconciliation <- per source file of one table: rows read = rows loaded + rows quarantined.
-- Steps: 1. rows read per file (raw); 2. rows staged per file; 3. distinct rows quarantined per file;
--        4. replace this table's reconciliation rows; 5. copy the figures onto the file's latest
--           audit.load_log entry so the log always says where every row went.
delete from audit.file_reconciliation where table_name = $table_name;

insert into audit.file_reconciliation
with rows_read as (
    select _source_file as source_file, count(*) as n
    from raw.{{ table }}
    group by _source_file
),

rows_loaded as (
    select _source_file as source_file, count(*) as n
    from staging.{{ table }}
    group by _source_file
),

rows_quarantined as (
    select source_file, count(distinct row_number) as n
    from audit.quarantine
    where table_name = $table_name
    group by source_file
)

select
    $table_name as table_name,
    r.source_file,
    r.n as rows_read,
    coalesce(l.n, 0) as rows_loaded,
    coalesce(q.n, 0) as rows_quarantined,
    r.n = coalesce(l.n, 0) + coalesce(q.n, 0) as balanced
from rows_read as r
left join rows_loaded as l on r.source_file = l.source_file
left join rows_quarantined as q on r.source_file = q.source_file;

update audit.load_log
set
    rows_loaded = rec.rows_loaded,
    rows_quarantined = rec.rows_quarantined
from audit.file_reconciliation as rec
where
    rec.table_name = $table_name
    and audit.load_log.table_name = rec.table_name
    and audit.load_log.source_file = rec.source_file
    and audit.load_log.status = 'loaded'
    and audit.load_log.loaded_at = (
        select max(l2.loaded_at)
        from audit.load_log as l2
        where l2.table_name = rec.table_name and l2.source_file = rec.source_file
    );
