-- audit.load_log <- one row for a source file that was (re)loaded in this load.
insert into audit.load_log
select
    $load_id,
    $table_name,
    $source_file,
    $file_sha256,
    $file_bytes,
    $file_format,
    $rows_read,
    $rows_loaded,
    $rows_quarantined,
    $status,
    $loaded_at;
