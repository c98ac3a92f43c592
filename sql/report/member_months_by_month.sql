-- Report: enrolled member-months per calendar month and payer type, up to the as-of date.
-- One row per (month, payer type): core.member_months has one row per person and month enrolled.
select
    month_start_date,
    coalesce(payer_type, 'unknown') as payer_type,
    count(*) as member_months
from core.member_months
where month_start_date <= $as_of
group by month_start_date, coalesce(payer_type, 'unknown')
order by month_start_date, payer_type
