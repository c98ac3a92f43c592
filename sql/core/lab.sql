-- core.lab <- staging.lab_result, core.encounter_link, measures/value_sets/lab_analytes.csv:
-- laboratory results with one LOINC, a numeric value, a normalised unit and an analyte label.
-- Grain: lab_result_id.
-- Steps:
--   1. loinc: the first of normalized_component_code, normalized_order_code, source_component_code,
--      source_order_code that is a LOINC code - its type column says 'loinc', or the type is empty
--      and the code has LOINC's shape (1-7 digits, a dash, a check digit). A component (the
--      measured quantity) is preferred to an order (the panel ordered).
--   2. analyte: the value set of measures/value_sets/lab_analytes.csv holding that LOINC (hba1c,
--      egfr, uacr, urine_albumin, urine_creatinine, ldl; codes from loinc.org). The file is read
--      with DuckDB's read_csv (on Spark/Trino: a reference table loaded from the same file).
--   3. value_numeric: the result text trimmed; a leading comparator (<, >, <=, >=, =) is
--      removed and kept in value_comparator ("<7.0" -> 7.0 with '<', so a measure can tell a
--      bound from a value); a '%' sign is removed; thousands separators ("1,200") are removed;
--      what still does not parse as a number (text, ranges such as "5-10") is NULL, and the text
--      stays in result_text.
--   4. unit: normalized_units, else source_units, spelled one way: '%', 'mg/dL', 'mg/L', 'g/dL',
--      'mmol/L', 'mmol/mol', 'umol/L', 'mg/g' (also for ug/mg, the same ratio), 'mL/min/1.73m2'
--      (UCUM's mL/min/{1.73_m2} and similar; and a bare 'mL/min' on an eGFR LOINC, which is per
--      1.73 m2 by definition); any other unit as received.
--   5. lab_date = collection date, else result date (the specimen date is the date of service).
--   6. results with status cancelled or entered-in-error are left out.
--   7. encounter_id via core.encounter_link (NULL when the result names no known encounter).
-- No final sort (issue 9): sorting the table cost a tenth to a fifth of building it at 100k
-- patients and held memory at 1M; readers join or filter by person, and the table's row order is
-- not part of its contract.
create or replace table core.lab as
with analyte_code as (
    select
        value_set as analyte,
        code
    from read_csv($lab_analytes_csv, header = true, all_varchar = true)
    where code_system = 'loinc'
),

lab_loinc as (
    select
        *,
        case
            when
                lower(normalized_component_type) = 'loinc'
                or (
                    normalized_component_type is null
                    and regexp_matches(normalized_component_code, '^[0-9]{1,7}-[0-9]$')
                )
                then normalized_component_code
            when
                lower(normalized_order_type) = 'loinc'
                or (
                    normalized_order_type is null
                    and regexp_matches(normalized_order_code, '^[0-9]{1,7}-[0-9]$')
                )
                then normalized_order_code
            when
                lower(source_component_type) = 'loinc'
                or (
                    source_component_type is null
                    and regexp_matches(source_component_code, '^[0-9]{1,7}-[0-9]$')
                )
                then source_component_code
            when
                lower(source_order_type) = 'loinc'
                or (
                    source_order_type is null
                    and regexp_matches(source_order_code, '^[0-9]{1,7}-[0-9]$')
                )
                then source_order_code
        end as loinc,
        trim(result) as result_text,
        coalesce(normalized_units, source_units) as unit_received
    from staging.lab_result
    where coalesce(lower(status), '') not in ('cancelled', 'canceled', 'entered-in-error')
),

lab_value as (
    select
        *,
        case
            when result_text like '<=%' then '<='
            when result_text like '>=%' then '>='
            when result_text like '<%' then '<'
            when result_text like '>%' then '>'
        end as value_comparator,
        trim(replace(regexp_replace(result_text, '^(<=|>=|<|>|=)', ''), '%', '')) as number_text,
        lower(replace(trim(unit_received), ' ', '')) as unit_key
    from lab_loinc
),

lab_parsed as (
    select
        v.*,
        a.analyte,
        try_cast(
            case
                when regexp_matches(number_text, '^[0-9]{1,3}(,[0-9]{3})+([.][0-9]*)?$')
                    then replace(number_text, ',', '')
                else number_text
            end as double
        ) as value_numeric
    from lab_value as v
    left join analyte_code as a on v.loinc = a.code
)

select
    p.lab_result_id,
    p.person_id,
    l.encounter_id,
    cast(coalesce(p.collection_datetime, p.result_datetime) as date) as lab_date,
    p.loinc,
    p.analyte,
    p.result_text,
    p.value_numeric,
    p.value_comparator,
    case
        when p.unit_key in ('%', 'percent', '%{hb}', '%hb', '%oftotalhgb', '%{total}') then '%'
        when p.unit_key = 'mg/dl' then 'mg/dL'
        when p.unit_key = 'mg/l' then 'mg/L'
        when p.unit_key = 'g/dl' then 'g/dL'
        when p.unit_key = 'mmol/l' then 'mmol/L'
        when p.unit_key = 'mmol/mol' then 'mmol/mol'
        when p.unit_key in ('umol/l', 'µmol/l', 'micromol/l') then 'umol/L'
        when
            p.unit_key in (
                'mg/g', 'mg/g{creat}', 'mg/g{creatinine}', 'mg/gcreat', 'mg/gcr', 'ug/mg',
                'µg/mg', 'ug/mg{creat}', 'µg/mg{creat}', 'mcg/mg'
            )
            then 'mg/g'
        when
            p.unit_key in (
                'ml/min/1.73m2', 'ml/min/{1.73_m2}', 'ml/min/1.73m^2', 'ml/min/1.73sqm',
                'ml/min/1.73m²', 'ml/min/1.73_m2', 'ml/min/{1.73m2}'
            )
            or (p.unit_key = 'ml/min' and p.analyte = 'egfr')
            then 'mL/min/1.73m2'
        else trim(p.unit_received)
    end as unit,
    p.unit_received as source_unit,
    coalesce(p.normalized_abnormal_flag, p.source_abnormal_flag) as abnormal_flag,
    p.status,
    p.specimen
from lab_parsed as p
left join core.encounter_link as l on l.source = 'encounter' and p.encounter_id = l.source_id;
