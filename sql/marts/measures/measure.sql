-- One quality measure, rendered from measures/definitions/{{ measure_id_text }}.yml by
-- pipelines/measures.py; inserted into marts.measure_patient.
-- Steps:
--   1. unit_candidate: the measure's units (every person, or index discharges) from a unit block.
--   2. population criteria (all must hold) -> unit: the units that get a row.
--   3. denominator criteria (all must hold), exclusions (the first met gives the reason),
--      numerator, optional weight (member years) and gap condition: one CTE per criterion, each
--      a building block of sql/marts/measures/blocks or a combination of them.
--   4. per unit: in_denominator; excluded (only inside the denominator); in_numerator (only for
--      the denominator minus exclusions); gap_open = eligible, the numerator shows the gap
--      (unmet; met for an inverse measure), the action can still happen ($as_of on or before the
--      definition's open_until date), the definition's gap condition holds, and the person is
--      alive; evidence = why not in the denominator, the exclusion, or what satisfied / is
--      missing from the numerator (codes, dates, values; never a name or identifier).
with unit_candidate as (
{{ unit_sql }}
),

{{ population_ctes }}unit as (
    select c.*
    from unit_candidate as c
    where {{ population_filter }}
),

{{ criteria_ctes }}scored as (
    select
        u.unit_id,
        u.person_id,
        u.episode_id,
        u.anchor_date,
        u.unit_label,
        coalesce(d.met, false) as in_denominator,
        coalesce(d.met, false) and coalesce(x.met, false) as excluded,
        case when coalesce(d.met, false) and coalesce(x.met, false) then x.reason end
            as exclusion_reason,
        coalesce(d.met, false) and not coalesce(x.met, false) and coalesce(n.met, false)
            as in_numerator,
        d.evidence as denominator_evidence,
        x.evidence as exclusion_evidence,
        x.event_date as exclusion_date,
        n.unit_id is not null as numerator_found,
        n.evidence as numerator_evidence,
        n.event_date as numerator_date,
        n.quantity as numerator_quantity,
        {{ weight_expr }} as weight,
        {{ gap_condition_expr }} as gap_condition,
        {{ denominator_missing }} as denominator_missing,
        {{ numerator_missing }} as numerator_missing
    from unit as u
    left join denominator as d on u.unit_id = d.unit_id
    left join exclusion as x on u.unit_id = x.unit_id
    left join numerator as n on u.unit_id = n.unit_id
    {{ weight_join }}
    {{ gap_condition_join }}
)

select
    {{ measure_id }} as measure_id,
    s.person_id,
    cast($period_start as date) as period_start,
    cast($period_end as date) as period_end,
    s.in_denominator,
    s.excluded,
    s.exclusion_reason,
    s.in_numerator,
    s.in_denominator
    and not s.excluded
    and {{ gap_numerator_rule }}
    and {{ gap_open_until }}
    and s.gap_condition
    and p.death_date is null
    and not coalesce(p.is_deceased, false) as gap_open,
    case
        when s.excluded then s.exclusion_date
        when s.in_denominator then s.numerator_date
    end as last_event_date,
    coalesce(s.unit_label || ': ', '')
    || case
        when not s.in_denominator then coalesce(s.denominator_evidence, s.denominator_missing)
        when s.excluded then s.exclusion_evidence
        when not s.numerator_found then s.numerator_missing
        else s.numerator_evidence
    end as evidence,
    s.episode_id,
    case when s.in_denominator then s.weight else 0 end as denominator_weight,
    {{ numerator_count }} as numerator_count
from scored as s
left join core.person as p on s.person_id = p.person_id
