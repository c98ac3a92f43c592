-- The overall observed 30-day unplanned readmission rate (marts.readmission_rates) for the
-- sanity-band check: index stays are the units the rate divides by.
select
    index_stays as eligible,
    rate
from marts.readmission_rates
where grouping = 'overall';
