-- Report: each quality measure's overall rate (marts.measure_rates, stratum 'overall').
-- rate is numerator / (denominator - exclusions) for proportions, events per 1,000 member-years
-- for utilisation measures (rate_unit says which); higher_is_better is false for inverse measures.
select
    measure_id,
    period_start,
    period_end,
    denominator,
    exclusions,
    numerator,
    rate,
    rate_unit,
    higher_is_better
from marts.measure_rates
where stratum = 'overall'
order by measure_id
