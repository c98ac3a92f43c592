-- audit.contract_results <- one Great Expectations suite outcome (counts and labels, never values).
insert into audit.contract_results
select
    $run_id,
    $table_name,
    $rows_in_table,
    $rows_validated,
    $expectations_evaluated,
    $failed_critical,
    $failed_warning,
    $passed,
    $validated_at;
