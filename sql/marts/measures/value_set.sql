-- marts.measure_value_set <- the value-set rows pipelines/measures.py read from
-- measures/value_sets/*.csv and the user's override folder (registered as value_set_rows).
-- Grain: value_set, code_system, code.
-- Steps:
--   1. the rows as loaded: codes already normalised by the engine (dots removed from ICD codes,
--      NDCs in the 11-digit 5-4-2 claim form, CPT vs HCPCS by the code's first character, as
--      core.procedure does); origin says 'shipped' or 'override'.
--   2. one row per value set, code system and code (a code listed twice keeps its first row).
create or replace table marts.measure_value_set as
select
    value_set,
    code_system,
    code,
    description,
    source,
    version,
    origin
from (
    select
        *,
        row_number() over (
            partition by value_set, code_system, code order by file_name, row_number
        ) as duplicate_rank
    from value_set_rows
) as r
where duplicate_rank = 1;
