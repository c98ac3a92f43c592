-- Block pdc: PQA proportion of days covered (PDC) by fills of the value sets.
-- Params: value_sets (each value set is one drug group: overlapping fills shift within a group,
-- days covered by different groups are counted once); window (fills counted: the period);
-- threshold (0.8); mode ('pdc': met when PDC >= threshold; 'reachable': met when the threshold
-- can still be reached by the end of the period if every remaining day were covered).
-- Rules (PQA PDC specification as summarised in /work/shared/reference/measures.md; Tuva
-- adh_* models):
--   1. fills: pharmacy fills with an NDC of the value sets dispensed in the window, with a
--      positive days' supply; several fills of one group on one day count once, with the
--      largest days' supply.
--   2. treatment period: the first fill (index prescription start date) through the end of the
--      window, ended early by death; while the period is still open it ends at the as-of date
--      (PDC to date).
--   3. an overlapping fill of the same group starts the day after the previous fill of that group
--      runs out ("shifted forward"). Closed form of start_i = max(fill_i, end_(i-1) + 1), standard
--      window functions only: end_i (exclusive) = supply_through_i + max over j <= i of
--      (fill_day_j - supply_before_j).
--   4. covered days are capped at the end of the treatment period; intervals of different groups
--      are merged (a day covered twice counts once).
--   5. PDC = covered days / days in the treatment period.
with fill as (
    select
        u.unit_id,
        v.value_set as drug_group,
        f.dispensing_date as fill_date,
        max(f.days_supply) as days_supply,
        max(cast({{ window_to }} as date)) as window_end,
        max(p.death_date) as death_date
    from {{ unit }} as u
    inner join core.person as p on u.person_id = p.person_id
    inner join core.pharmacy_fill as f on u.person_id = f.person_id
    inner join marts.measure_value_set as v on v.code_system = 'ndc' and f.ndc = v.code
    where
        v.value_set in ({{ value_sets }})
        and f.dispensing_date between {{ window_from }} and {{ window_to }}
        and f.dispensing_date <= cast($as_of as date)
        and f.days_supply > 0
    group by u.unit_id, v.value_set, f.dispensing_date
),

treatment as (
    select
        unit_id,
        min(fill_date) as index_date,
        least(max(window_end), coalesce(max(death_date), max(window_end))) as full_end,
        least(
            max(window_end), coalesce(max(death_date), max(window_end)), cast($as_of as date)
        ) as observed_end,
        count(distinct fill_date) as fill_dates,
        count(distinct drug_group) as drug_groups
    from fill
    group by unit_id
),

treatment_days as (
    select
        *,
        date_diff('day', index_date, observed_end) + 1 as observed_days,
        date_diff('day', index_date, full_end) + 1 as full_days
    from treatment
),

fill_day as (
    select
        f.unit_id,
        f.drug_group,
        date_diff('day', t.index_date, f.fill_date) as day_number,
        f.days_supply
    from fill as f
    inner join treatment as t on f.unit_id = t.unit_id
),

supply as (
    select
        *,
        sum(days_supply) over (
            partition by unit_id, drug_group
            order by day_number
            rows between unbounded preceding and current row
        ) as supply_through,
        coalesce(sum(days_supply) over (
            partition by unit_id, drug_group
            order by day_number
            rows between unbounded preceding and 1 preceding
        ), 0) as supply_before
    from fill_day
),

shifted as (
    select
        unit_id,
        days_supply,
        supply_through + max(day_number - supply_before) over (
            partition by unit_id, drug_group
            order by day_number
            rows between unbounded preceding and current row
        ) as cover_end
    from supply
),

clipped as (
    select
        s.unit_id,
        greatest(s.cover_end - s.days_supply, 0) as cover_start,
        least(s.cover_end, t.observed_days) as cover_end
    from shifted as s
    inner join treatment_days as t on s.unit_id = t.unit_id
    where s.cover_end - s.days_supply < t.observed_days
),

ordered as (
    select
        *,
        max(cover_end) over (
            partition by unit_id
            order by cover_start, cover_end
            rows between unbounded preceding and 1 preceding
        ) as reach_before
    from clipped
),

island as (
    select
        *,
        sum(case when reach_before is null or cover_start > reach_before then 1 else 0 end) over (
            partition by unit_id
            order by cover_start, cover_end
            rows between unbounded preceding and current row
        ) as island_number
    from ordered
),

covered as (
    select
        unit_id,
        sum(island_end - island_start) as covered_days
    from (
        select
            unit_id,
            island_number,
            min(cover_start) as island_start,
            max(cover_end) as island_end
        from island
        group by unit_id, island_number
    ) as merged
    group by unit_id
),

scored as (
    select
        t.*,
        coalesce(c.covered_days, 0) as covered_days,
        coalesce(c.covered_days, 0) * 1.0 / t.observed_days as pdc,
        (coalesce(c.covered_days, 0) + t.full_days - t.observed_days) * 1.0 / t.full_days
            as best_reachable
    from treatment_days as t
    left join covered as c on t.unit_id = c.unit_id
)

select
    unit_id,
    case
        when '{{ mode }}' = 'reachable' then best_reachable >= {{ threshold }}
        else pdc >= {{ threshold }}
    end as met,
    observed_end as event_date,
    {{ label }} || ' ' || cast(round(pdc * 100, 1) as varchar) || '% of days covered ('
    || cast(covered_days as varchar) || ' of ' || cast(observed_days as varchar)
    || ' days from ' || cast(index_date as varchar) || ' to ' || cast(observed_end as varchar)
    || ', ' || cast(fill_dates as varchar) || ' fill dates)' as evidence,
    case when '{{ mode }}' = 'reachable' then best_reachable else pdc end as quantity
from scored
