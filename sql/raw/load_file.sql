-- raw.<table> <- one source file, every contract column kept as the text received.
-- Steps:
--   1. forget the rows this file loaded before: a file whose content changed replaces its rows,
--      an unchanged file is skipped before this runs (pipelines/ingest.py compares SHA-256);
--   2. insert each row with its lineage: source file, content hash, load id, row number in the file.
-- Columns the file lacks are null; columns the contract does not know are not read.
-- Typing and row-level rules happen in sql/staging/, so nothing is lost at this step.
delete from raw.{{ table }} where _source_file = $source_file;

insert into raw.{{ table }}
select
    {{ select_list }},
    $source_file as _source_file,
    $file_sha256 as _file_sha256,
    $load_id as _load_id,
    {{ row_number }} as _row_number
from {{ reader }};
