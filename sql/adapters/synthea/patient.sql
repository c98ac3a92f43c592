-- converted.patient <- Synthea patients.csv: one row per simulated person.
-- Steps:
--   1. person_id and patient_id are Synthea's patient Id (one source system, so the person id is
--      the source id);
--   2. sex from GENDER (M -> male, F -> female); race and ethnicity lowercased, in Synthea's own
--      words (white, black, asian, native, hawaiian, other; hispanic, nonhispanic);
--   3. address kept; the state name becomes its USPS code; ZIP 00000, which Synthea writes
--      when it has no ZIP for the town, becomes null;
--   4. SSN, driver's licence, passport, maiden name, marital status, birthplace, income and
--      lifetime costs are not carried: popcare needs none of them (minimum necessary).
create or replace table converted.patient as
select
    p.id as person_id,
    p.id as patient_id,
    p.suffix as name_suffix,
    p.first as first_name,
    p.middle as middle_name,
    p.last as last_name,
    case upper(p.gender) when 'M' then 'male' when 'F' then 'female' end as sex,
    lower(p.race) as race,
    p.birthdate as birth_date,
    p.deathdate as death_date,
    case when p.deathdate is not null then 1 else 0 end as death_flag,
    p.address,
    p.city,
    coalesce(state_code.state_code, p.state) as state,
    nullif(trim(p.zip), '00000') as zip_code,
    p.county,
    p.lat as latitude,
    p.lon as longitude,
    lower(p.ethnicity) as ethnicity,
    'synthea' as data_source,
    'patients.csv' as file_name
from synthea.patients as p
left join synthea.us_state as state_code
    on state_code.state_key = upper(trim(p.state));
