-- raw.<table> <- source files of one table, every contract column kept as the text received.
-- pipelines/ingest.py first forgets the rows these files loaded before (a file whose content
-- changed replaces its rows; an unchanged file is skipped, compared by SHA-256) and lists the files
-- in the temp table raw_load_file (path, source_file, file_sha256). Each row is inserted with its
-- lineage: source file, content hash, load id, row number in the file.
-- Columns the file lacks are null; columns the contract does not know are not read.
-- Typing and row-level rules happen in sql/staging/, so nothing is lost at this step.
insert into raw.{{ table }}
select
    {{ select_list }},
    f.source_file as _source_file,
    f.file_sha256 as _file_sha256,
    $load_id as _load_id,
    {{ row_number }} as _row_number
from {{ reader }} as r
inner join raw_load_file as f on r.filename = f.path;
