-- Report: which model scored the population (marts.risk_scores.model_version), most used first.
-- 'baseline-fallback' means no model was registered and scores use the documented baseline.
select
    model_version,
    min(scoring_date) as scoring_date,
    count(*) as persons
from marts.risk_scores
group by model_version
order by persons desc, model_version
