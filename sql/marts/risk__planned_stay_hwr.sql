-- {{ schema }}.risk__planned_stay <- marts.readmission__stay: which acute stays were planned, by
-- the CMS Planned Readmission Algorithm v4.0 as the readmission mart implements it
-- (sql/marts/readmission__stay.sql). Used for the label when that mart is built; otherwise
-- risk__planned_stay.sql applies popcare's simple rule.
-- Grain: stay_id (acute inpatient stays of the readmission mart; observation stays are left out
-- because the label counts them separately).
create or replace table {{ schema }}.risk__planned_stay as
select
    stay_id,
    coalesce(is_planned, false) as is_planned
from marts.readmission__stay
where stay_type = 'acute_inpatient';
