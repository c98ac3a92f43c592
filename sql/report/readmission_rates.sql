-- Report: observed 30-day unplanned readmission rates (CMS hospital-wide measure, all payers)
-- from marts.readmission_rates: overall and by discharge month, facility, payer and age band.
select
    grouping,
    group_value,
    index_stays,
    readmissions,
    rate
from marts.readmission_rates
order by grouping, group_value
