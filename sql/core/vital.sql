-- core.vital <- staging.observation, core.medical_claim_final, core.encounter_link: vital signs
-- from EHR observations, plus the blood-pressure result bands that CPT II codes report on claims.
-- Grain: one row per observation value (a "120/80" panel gives two) and per CPT II claim line.
-- Steps:
--   1. the observation's LOINC: normalized_code when its type is 'loinc', else source_code when
--      its type is 'loinc' (or empty and the code has LOINC's shape).
--   2. kind by LOINC (loinc.org; the codes of the LOINC vital-signs panel 85353-1 and the
--      FHIR vital-signs profile): 8480-6 systolic_bp, 8462-4 diastolic_bp, 39156-5 bmi,
--      29463-7 / 3141-9 weight, 8302-2 / 8306-3 / 3137-7 height, 8867-4 heart_rate,
--      9279-1 respiratory_rate, 8310-5 body_temperature, 59408-5 / 2708-6 oxygen_saturation.
--      Other observations (surveys, scores, SDOH answers) are not vitals and are left out.
--   3. blood-pressure panels (85354-9, 55284-4, 35094-2) whose result reads "systolic/diastolic"
--      give one systolic_bp and one diastolic_bp row.
--   4. value_numeric: the result with a leading comparator removed, parsed as a number (NULL when
--      it does not parse); unit: normalized_units, else source_units, spelled as UCUM
--      (mm[Hg], kg/m2, kg, [lb_av], cm, [in_i], /min, Cel, [degF], %).
--   5. claims: final claim lines with CPT II codes 3074F (systolic < 130), 3075F (130-139),
--      3077F (>= 140), 3078F (diastolic < 80), 3079F (80-89), 3080F (>= 90) give kind
--      'systolic_bp_band' / 'diastolic_bp_band' with band_label '<130', '130-139', '>=140',
--      '<80', '80-89', '>=90' and no value (CPT II descriptors: AMA; labels are popcare's own).
--      vital_date = claim_line_start_date, else claim_start_date.
--   6. encounter_id via core.encounter_link.
-- No final sort (issue 9): sorting the table cost a tenth to a fifth of building it at 100k
-- patients and held memory at 1M; readers join or filter by person, and the table's row order is
-- not part of its contract.
create or replace table core.vital as
with vital_kind as (
    select
        loinc,
        kind
    from (
        values
        ('8480-6', 'systolic_bp'),
        ('8462-4', 'diastolic_bp'),
        ('39156-5', 'bmi'),
        ('29463-7', 'weight'),
        ('3141-9', 'weight'),
        ('8302-2', 'height'),
        ('8306-3', 'height'),
        ('3137-7', 'height'),
        ('8867-4', 'heart_rate'),
        ('9279-1', 'respiratory_rate'),
        ('8310-5', 'body_temperature'),
        ('59408-5', 'oxygen_saturation'),
        ('2708-6', 'oxygen_saturation')
    ) as k (loinc, kind)
),

bp_band as (
    select
        code,
        kind,
        band_label
    from (
        values
        ('3074F', 'systolic_bp_band', '<130'),
        ('3075F', 'systolic_bp_band', '130-139'),
        ('3077F', 'systolic_bp_band', '>=140'),
        ('3078F', 'diastolic_bp_band', '<80'),
        ('3079F', 'diastolic_bp_band', '80-89'),
        ('3080F', 'diastolic_bp_band', '>=90')
    ) as b (code, kind, band_label)
),

observation_loinc as (
    select
        observation_id,
        person_id,
        encounter_id,
        observation_date,
        trim(result) as result_text,
        coalesce(normalized_units, source_units) as unit_received,
        case
            when lower(normalized_code_type) = 'loinc' then normalized_code
            when
                lower(source_code_type) = 'loinc'
                or (
                    source_code_type is null
                    and regexp_matches(source_code, '^[0-9]{1,7}-[0-9]$')
                )
                then source_code
        end as loinc
    from staging.observation
),

observation_value as (
    select
        o.observation_id,
        o.person_id,
        o.encounter_id,
        o.observation_date,
        k.kind,
        o.loinc,
        regexp_replace(o.result_text, '^(<=|>=|<|>|=)', '') as number_text,
        o.unit_received
    from observation_loinc as o
    inner join vital_kind as k on o.loinc = k.loinc
    union all
    select
        observation_id,
        person_id,
        encounter_id,
        observation_date,
        'systolic_bp' as kind,
        loinc,
        split_part(result_text, '/', 1) as number_text,
        unit_received
    from observation_loinc
    where loinc in ('85354-9', '55284-4', '35094-2') and result_text like '%/%'
    union all
    select
        observation_id,
        person_id,
        encounter_id,
        observation_date,
        'diastolic_bp' as kind,
        loinc,
        split_part(result_text, '/', 2) as number_text,
        unit_received
    from observation_loinc
    where loinc in ('85354-9', '55284-4', '35094-2') and result_text like '%/%'
),

observation_vital as (
    select
        v.person_id,
        v.observation_date as vital_date,
        l.encounter_id,
        v.kind,
        try_cast(trim(v.number_text) as double) as value_numeric,
        case
            when lower(replace(v.unit_received, ' ', '')) in ('mm[hg]', 'mmhg') then 'mm[Hg]'
            when lower(replace(v.unit_received, ' ', '')) in ('kg/m2', 'kg/m^2', 'kg/(m2)')
                then 'kg/m2'
            when lower(replace(v.unit_received, ' ', '')) in ('kg', 'kilogram') then 'kg'
            when lower(replace(v.unit_received, ' ', '')) in ('[lb_av]', 'lb', 'lbs') then '[lb_av]'
            when lower(replace(v.unit_received, ' ', '')) = 'cm' then 'cm'
            when lower(replace(v.unit_received, ' ', '')) in ('[in_i]', 'in', 'inch', 'inches')
                then '[in_i]'
            when
                lower(replace(v.unit_received, ' ', '')) in (
                    '/min', 'beats/min', '{beats}/min', 'bpm', 'breaths/min', '{breaths}/min'
                )
                then '/min'
            when lower(replace(v.unit_received, ' ', '')) in ('cel', '°c', 'degc') then 'Cel'
            when lower(replace(v.unit_received, ' ', '')) in ('[degf]', '°f', 'degf') then '[degF]'
            when lower(replace(v.unit_received, ' ', '')) = '%' then '%'
            else trim(v.unit_received)
        end as unit,
        cast(null as varchar) as band_label,
        'loinc' as code_system,
        v.loinc as code,
        'observation' as source,
        v.observation_id as source_id
    from observation_value as v
    left join core.encounter_link as l on l.source = 'encounter' and v.encounter_id = l.source_id
),

claim_band as (
    select
        m.person_id,
        coalesce(m.claim_line_start_date, m.claim_start_date) as vital_date,
        l.encounter_id,
        b.kind,
        cast(null as double) as value_numeric,
        cast(null as varchar) as unit,
        b.band_label,
        'cpt' as code_system,
        m.hcpcs_code as code,
        'medical_claim' as source,
        m.claim_id as source_id
    from core.medical_claim_final as m
    inner join bp_band as b on m.hcpcs_code = b.code
    left join core.encounter_link as l on l.source = 'medical_claim' and m.claim_id = l.source_id
)

select * from observation_vital
union all
select * from claim_band;
