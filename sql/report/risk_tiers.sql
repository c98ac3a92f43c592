-- Report: risk tier sizes from marts.risk_scores. The score is a calibrated probability of
-- unplanned acute care in 180 days, so its sum over a tier is the tier's expected events.
-- Tiers in the model card's order: complex (top 1%), high (next 4%), rising (next 15%), low.
select
    coalesce(tier, 'unknown') as tier,
    count(*) as persons,
    avg(score) as mean_score,
    min(score) as min_score,
    max(score) as max_score,
    sum(score) as expected_events
from marts.risk_scores
group by coalesce(tier, 'unknown')
order by
    case coalesce(tier, 'unknown')
        when 'complex' then 1
        when 'high' then 2
        when 'rising' then 3
        when 'low' then 4
        else 5
    end
