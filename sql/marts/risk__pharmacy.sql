-- {{ schema }}.risk__pharmacy <- {{ schema }}.risk__population, core.pharmacy_fill: medication
-- adherence (proportion of days covered) and the number of distinct drugs at each scoring date.
-- Grain: person_id, scoring_date (every population row).
-- Steps:
--   1. drug = the NDC's labeler + product segments (first 9 of the 11 digits: the same drug in
--      any package size), else the RxNorm code.
--   2. PDC (PQA proportion of days covered, simplified): for each drug with at least two
--      dispensed pharmacy-claim fills on different dates in the 12 months up to the scoring date,
--      the days from the first fill to the scoring date that are covered by a fill's supply
--      (dispensing date + days_supply - 1, cut at the scoring date), divided by those days.
--      Overlapping supplies are merged (gaps and islands), not shifted forward as PQA does for
--      early refills, so a person who refills early can score slightly below the PQA figure.
--      Drugs are not grouped into PQA therapeutic classes: a switch between two drugs of a class
--      reads as two drugs, each partly covered.
--   3. per person: pdc_min (the least adherent drug), pdc_mean, adherence_drug_count, and
--      pdc_below_80 (any drug under the PQA 80% threshold); all null without a qualifying drug.
--   4. distinct_drugs_6m: drugs dispensed (claims) or prescribed (EHR medications) in the 182
--      days up to the scoring date; polypharmacy = 5 or more (the common threshold).
create or replace table {{ schema }}.risk__pharmacy as
with fill as (
    select
        p.person_id,
        p.scoring_date,
        p.window_6m_start,
        f.source,
        coalesce(substring(f.ndc, 1, 9), 'rx:' || f.rxnorm) as drug,
        coalesce(f.dispensing_date, f.prescribing_date) as fill_date,
        f.days_supply
    from {{ schema }}.risk__population as p
    inner join core.pharmacy_fill as f
        on
            p.person_id = f.person_id
            and coalesce(f.dispensing_date, f.prescribing_date) > p.window_12m_start
            and coalesce(f.dispensing_date, f.prescribing_date) <= p.scoring_date
    where coalesce(f.ndc, f.rxnorm) is not null
),

dispensed as (
    select
        person_id,
        scoring_date,
        drug,
        fill_date,
        case
            when fill_date + (days_supply - 1) * interval '1' day > scoring_date then scoring_date
            else cast(fill_date + (days_supply - 1) * interval '1' day as date)
        end as supply_end
    from fill
    where source = 'pharmacy_claim' and days_supply > 0
),

qualifying_drug as (
    select
        person_id,
        scoring_date,
        drug,
        min(fill_date) as first_fill_date
    from dispensed
    group by person_id, scoring_date, drug
    having count(distinct fill_date) >= 2
),

supply_ordered as (
    select
        d.*,
        max(d.supply_end) over (
            partition by d.person_id, d.scoring_date, d.drug
            order by d.fill_date, d.supply_end
            rows between unbounded preceding and 1 preceding
        ) as covered_through
    from dispensed as d
    inner join qualifying_drug as q
        on d.person_id = q.person_id and d.scoring_date = q.scoring_date and d.drug = q.drug
),

supply_island as (
    select
        *,
        sum(case when covered_through is null or fill_date > covered_through then 1 else 0 end)
            over (
                partition by person_id, scoring_date, drug
                order by fill_date, supply_end
                rows between unbounded preceding and current row
            ) as island
    from supply_ordered
),

covered as (
    select
        person_id,
        scoring_date,
        drug,
        sum(date_diff('day', island_start, island_end) + 1) as covered_days
    from (
        select
            person_id,
            scoring_date,
            drug,
            island,
            min(fill_date) as island_start,
            max(supply_end) as island_end
        from supply_island
        group by person_id, scoring_date, drug, island
    ) as i
    group by person_id, scoring_date, drug
),

drug_pdc as (
    select
        q.person_id,
        q.scoring_date,
        least(
            1.0,
            c.covered_days / (date_diff('day', q.first_fill_date, q.scoring_date) + 1.0)
        ) as pdc
    from qualifying_drug as q
    inner join covered as c
        on q.person_id = c.person_id and q.scoring_date = c.scoring_date and q.drug = c.drug
),

person_pdc as (
    select
        person_id,
        scoring_date,
        min(pdc) as pdc_min,
        -- rounded: a parallel average can differ in its last bits from run to run, and the
        -- training data hash (the model version) must not
        round(avg(pdc), 6) as pdc_mean,
        count(*) as adherence_drug_count,
        max(case when pdc < 0.8 then 1 else 0 end) as pdc_below_80
    from drug_pdc
    group by person_id, scoring_date
),

recent_drug as (
    select
        person_id,
        scoring_date,
        count(distinct drug) as distinct_drugs_6m
    from fill
    where fill_date > window_6m_start
    group by person_id, scoring_date
)

select
    p.person_id,
    p.scoring_date,
    a.pdc_min,
    a.pdc_mean,
    coalesce(a.adherence_drug_count, 0) as adherence_drug_count,
    a.pdc_below_80,
    coalesce(r.distinct_drugs_6m, 0) as distinct_drugs_6m,
    case when coalesce(r.distinct_drugs_6m, 0) >= 5 then 1 else 0 end as polypharmacy
from {{ schema }}.risk__population as p
left join person_pdc as a on p.person_id = a.person_id and p.scoring_date = a.scoring_date
left join recent_drug as r on p.person_id = r.person_id and p.scoring_date = r.scoring_date;
