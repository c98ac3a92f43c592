-- {{ schema }}.risk__care_gap <- marts.measure_patient: open care gaps per person for the run's
-- measurement period (run only when the measures mart is built; otherwise popcare creates this
-- table empty). Display only: the risk model does not read it (see risk_features.sql, step 7).
-- Grain: person_id.
create or replace table {{ schema }}.risk__care_gap as
select
    person_id,
    count(*) as open_care_gaps
from marts.measure_patient
where in_denominator and not excluded and gap_open
group by person_id;
