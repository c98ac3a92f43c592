-- Data-quality summary per contract table for the report: files, rows read / loaded / quarantined,
-- values corrected, and the latest Great Expectations suite outcome. Counts only, never values.
with files as (
    select
        table_name,
        count(*) as files,
        sum(rows_read) as rows_read,
        sum(rows_loaded) as rows_loaded,
        sum(rows_quarantined) as rows_quarantined,
        bool_and(balanced) as balanced
    from audit.file_reconciliation
    group by table_name
),

corrections as (
    select table_name, count(*) as values_corrected
    from audit.corrections
    group by table_name
),

latest_suite as (
    select
        table_name,
        arg_max(expectations_evaluated, validated_at) as expectations_evaluated,
        arg_max(passed, validated_at) as suite_passed,
        arg_max(failed_critical, validated_at) as failed_critical,
        arg_max(failed_warning, validated_at) as failed_warning,
        arg_max(rows_validated, validated_at) as rows_validated
    from audit.contract_results
    group by table_name
)

select
    f.table_name,
    f.files,
    f.rows_read,
    f.rows_loaded,
    f.rows_quarantined,
    f.balanced,
    coalesce(c.values_corrected, 0) as values_corrected,
    s.expectations_evaluated,
    s.suite_passed,
    s.failed_critical,
    s.failed_warning,
    s.rows_validated
from files as f
left join corrections as c on f.table_name = c.table_name
left join latest_suite as s on f.table_name = s.table_name
order by f.table_name
