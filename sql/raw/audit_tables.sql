-- audit schema: the bookkeeping every load writes, so nothing is lost and nothing silently dropped.
--   audit.load_log    one row per (load, source file): rows read = rows loaded + rows quarantined
--   audit.quarantine  one row per rejected row and failed rule, with the raw row as text
--   audit.corrections values normalised rather than refused (dotted ICD codes, hyphenated NDCs)
--   audit.file_reconciliation  per file: rows read = rows loaded + rows quarantined
--   audit.contract_results     Great Expectations suite outcomes (counts only)
-- Rules that fill audit.quarantine live in sql/staging/; this file only declares the tables.
create schema if not exists audit;
create schema if not exists raw;

create table if not exists audit.load_log (
    load_id varchar not null,
    table_name varchar not null,
    source_file varchar not null,
    file_sha256 varchar not null,
    file_bytes bigint not null,
    file_format varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    status varchar not null,
    loaded_at timestamp not null
);

create table if not exists audit.quarantine (
    load_id varchar not null,
    table_name varchar not null,
    source_file varchar not null,
    row_number bigint not null,
    column_name varchar,
    rule varchar not null,
    detail varchar,
    raw_row varchar
);

create table if not exists audit.corrections (
    load_id varchar not null,
    table_name varchar not null,
    source_file varchar not null,
    row_number bigint not null,
    column_name varchar not null,
    rule varchar not null,
    detail varchar
);

create table if not exists audit.file_reconciliation (
    table_name varchar not null,
    source_file varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    balanced boolean not null
);

create schema if not exists staging;

-- Great Expectations contract-suite outcomes per table and run (counts only, never values).
create table if not exists audit.contract_results (
    run_id varchar not null,
    table_name varchar not null,
    rows_in_table bigint not null,
    rows_validated bigint not null,
    expectations_evaluated integer not null,
    failed_critical varchar,
    failed_warning varchar,
    passed boolean not null,
    validated_at timestamp not null
);
