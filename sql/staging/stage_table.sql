-- staging.<table> <- raw.<table>, typed and validated; rejected rows -> audit.quarantine.
-- Steps:
--   1. failures: one row per (row, rule, column) a raw row breaks. The rules (pipelines/staging.py,
--      expressions in sql/staging/expressions.yml) are: required keys present (missing_key); dates,
--      numbers and booleans parse (malformed_*); no event after the as-of date (future_date);
--      discharge not before admission, end not before start, death not before birth; code formats
--      of ICD-10-CM/PCS, CPT/HCPCS, LOINC (check digit), NDC (11 digits), NPI (Luhn), UB-04 codes
--      (invalid_code); exact duplicate lines, the first copy kept (duplicate_line); a person
--      unknown to eligibility and patient (unknown_person).
--   2. audit.quarantine for this table is replaced by this run's failures, with the raw row as text.
--   3. audit.corrections records values normalised rather than refused (dotted ICD codes, NDCs).
--   4. staging.<table>: every row without a failure, each column typed and normalised.
-- One filtered pass over raw keeps the rows that break any per-row rule or carry a value to
-- normalise (stage_flagged: usually none, or a few); the per-rule failures and the corrections
-- are then broken down on those rows only (the correction flag shares this pass: one scan fewer).
-- Duplicates compare one digest per row. Computing the digest and the flag in one pass, then
-- fetching the flagged rows, was measured slower at 1M (docs/benchmarks.md).
create or replace temp table stage_flagged as
select r.*
from raw.{{ table }} as r
where ({{ suspect_predicate }}) or ({{ correction_predicate }});

create or replace temp table stage_row_digests as
select
    r._source_file as source_file,
    r._row_number as row_number,
    md5({{ raw_row }}) as digest
from raw.{{ table }} as r;

create or replace temp table stage_failures as
{{ failure_query }};

delete from audit.quarantine where table_name = $table_name;

insert into audit.quarantine
select
    r._load_id as load_id,
    $table_name as table_name,
    f.source_file,
    f.row_number,
    f.column_name,
    f.rule,
    f.detail,
    {{ raw_row }} as raw_row
from stage_failures as f
inner join raw.{{ table }} as r
    on r._source_file = f.source_file and r._row_number = f.row_number;

delete from audit.corrections where table_name = $table_name;

insert into audit.corrections
{{ correction_query }};

create or replace table staging.{{ table }} as
select
    {{ typed_list }},
    r._source_file,
    r._row_number
from raw.{{ table }} as r
where not exists (
    select 1
    from stage_failures as f
    where f.source_file = r._source_file and f.row_number = r._row_number
);

drop table stage_failures;
drop table stage_flagged;
drop table stage_row_digests;
