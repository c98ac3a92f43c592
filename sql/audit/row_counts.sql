-- audit.row_counts: the row count of every gated table (staging and core) as of the last run that
-- published outreach lists, one row per as-of date and table. The publication gate's row-count
-- check (pipelines/checks.py, docs/orchestration.md) compares today's count with the most recent
-- row here, so the history lives in the warehouse, independent of the Dagster instance.
-- Counts only: never a value from a row.
create schema if not exists audit;

create table if not exists audit.row_counts (
    run_id varchar not null,
    as_of date not null,
    table_name varchar not null,
    row_count bigint not null,
    recorded_at timestamp not null
);
