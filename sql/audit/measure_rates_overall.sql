-- The overall rate of every measure (marts.measure_rates, stratum 'overall') for the sanity-band
-- check: eligible = denominator - exclusions, the units the rate divides by (member years for
-- utilisation measures).
select
    measure_id,
    rate_unit,
    denominator - exclusions as eligible,
    rate
from marts.measure_rates
where stratum = 'overall'
order by measure_id, period_start;
