-- raw.<table>: the contract's columns as text plus lineage. Created empty when the extract has no
-- file for the table, so that every later layer can read it ("no data of that kind").
create table if not exists raw.{{ table }} (
    {{ column_defs }},
    _source_file varchar not null,
    _file_sha256 varchar not null,
    _load_id varchar not null,
    _row_number bigint not null
);
