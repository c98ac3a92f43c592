-- core.pharmacy_fill <- staging.pharmacy_claim, staging.medication: final pharmacy fills plus EHR
-- medications coded with an NDC or RxNorm code.
-- Grain: source ('pharmacy_claim' | 'medication'), source_id (claim_id | medication_id),
-- claim_line_number.
-- Steps (pharmacy claims, the same rules as core.medical_claim_adjudication):
--   1. claim family: claim_id without a version suffix '-A<n>', '-V<n>' or '-R<n>' (popcare's
--      synthetic generator writes an NCPDP reversal, B2, as '<claim_id>-R' with negated amounts
--      and quantity); arrival order within a family: paid_date (unknown first), file, row.
--   2. reversals: a fill with a negative paid, allowed or charge amount or quantity is a
--      reversal; it pairs first with a fill of the same family + line whose amounts and quantity
--      it negates exactly (k-th with k-th, arrival order), else with the earliest remaining fill
--      of the same family + line; both leave, and an unpaired reversal leaves too.
--   3. a family + line still present more than once: the latest arrival is the final fill.
--      Fills paid at $0 stay: a drug dispensed and paid by the member still covers days for
--      adherence measures.
--   4. EHR medications with an NDC (ndc_code, or source_code when source_code_type = 'ndc') or an
--      RxNorm code (rxnorm_code, or source_code when source_code_type = 'rxnorm'), marked
--      source = 'medication'. They are orders or administrations: dispensing_date is kept as given
--      (often empty) and prescribing_date is carried for measures that accept orders.
-- Steps 2-3 can only change a fill of a family with a reversal or a claim line received twice
-- (adjusted_family): the windows run on those families only, and the final fills are every fill
-- received except the reversals, reversed and superseded fills found there (dropped_fill).
-- No final sort (issue 9): sorting the table cost a tenth to a fifth of building it at 100k
-- patients and held memory at 1M; readers join or filter by person, and the table's row order is
-- not part of its contract.
create or replace table core.pharmacy_fill as
with fill_received as (
    select
        *,
        regexp_replace(claim_id, '-[AVR][0-9]*$', '') as claim_family_id,
        coalesce(
            paid_amount < 0 or allowed_amount < 0 or charge_amount < 0 or quantity < 0, false
        ) as is_reversal
    from staging.pharmacy_claim
),

adjusted_family as (
    select claim_family_id
    from fill_received
    where is_reversal
    union
    select claim_family_id
    from fill_received
    group by claim_family_id, claim_line_number
    having count(*) > 1
),

fill_adjusted as (
    select f.*
    from fill_received as f
    inner join adjusted_family as a on f.claim_family_id = a.claim_family_id
),

fill_ordered as (
    select
        *,
        row_number() over (
            partition by claim_family_id
            order by paid_date asc nulls first, _source_file asc, _row_number asc
        ) as arrival_order,
        row_number() over (
            partition by
                claim_family_id, claim_line_number, is_reversal,
                abs(paid_amount), abs(allowed_amount), abs(charge_amount), abs(quantity)
            order by paid_date asc nulls first, _source_file asc, _row_number asc
        ) as pair_order
    from fill_adjusted
),

exact_pair as (
    select
        o._source_file as original_file,
        o._row_number as original_row,
        r._source_file as reversal_file,
        r._row_number as reversal_row
    from fill_ordered as o
    inner join fill_ordered as r
        on
            o.claim_family_id = r.claim_family_id
            and o.claim_line_number = r.claim_line_number
            and o.pair_order = r.pair_order
            and abs(o.paid_amount) is not distinct from abs(r.paid_amount)
            and abs(o.allowed_amount) is not distinct from abs(r.allowed_amount)
            and abs(o.charge_amount) is not distinct from abs(r.charge_amount)
            and abs(o.quantity) is not distinct from abs(r.quantity)
    where not o.is_reversal and r.is_reversal
),

unpaired as (
    select
        f.*,
        row_number() over (
            partition by f.claim_family_id, f.claim_line_number, f.is_reversal
            order by f.arrival_order
        ) as fallback_order
    from fill_ordered as f
    where
        -- Two equality tests rather than one 'or': each is a hash anti-join (an 'or' of two
        -- keys would compare every line with every pair).
        not exists (
            select 1
            from exact_pair as p
            where p.original_file = f._source_file and p.original_row = f._row_number
        )
        and not exists (
            select 1
            from exact_pair as p
            where p.reversal_file = f._source_file and p.reversal_row = f._row_number
        )
),

reversed_fill as (
    select
        original_file as _source_file,
        original_row as _row_number
    from exact_pair
    union all
    select
        o._source_file,
        o._row_number
    from unpaired as o
    inner join unpaired as r
        on
            o.claim_family_id = r.claim_family_id
            and o.claim_line_number = r.claim_line_number
            and o.fallback_order = r.fallback_order
    where not o.is_reversal and r.is_reversal
),

fill_latest as (
    select
        f.*,
        row_number() over (
            partition by f.claim_family_id, f.claim_line_number
            order by f.arrival_order desc
        ) as recency
    from fill_ordered as f
    where
        not f.is_reversal
        and not exists (
            select 1
            from reversed_fill as rf
            where rf._source_file = f._source_file and rf._row_number = f._row_number
        )
),

dropped_fill as (
    select
        _source_file,
        _row_number
    from fill_ordered
    where is_reversal
    union all
    select
        _source_file,
        _row_number
    from reversed_fill
    union all
    select
        _source_file,
        _row_number
    from fill_latest
    where recency > 1
)

select
    'pharmacy_claim' as source,
    claim_id as source_id,
    claim_line_number,
    person_id,
    dispensing_date,
    cast(null as date) as prescribing_date,
    ndc_code as ndc,
    cast(null as varchar) as rxnorm,
    days_supply,
    quantity,
    paid_amount,
    allowed_amount,
    prescribing_provider_npi,
    dispensing_provider_npi
from fill_received as f
where not exists (
    select 1
    from dropped_fill as d
    where d._source_file = f._source_file and d._row_number = f._row_number
)
union all
select
    'medication' as source,
    medication_id as source_id,
    cast(null as integer) as claim_line_number,
    person_id,
    dispensing_date,
    prescribing_date,
    coalesce(ndc_code, case when source_code_type = 'ndc' then source_code end) as ndc,
    coalesce(rxnorm_code, case when source_code_type = 'rxnorm' then source_code end) as rxnorm,
    days_supply,
    quantity,
    cast(null as decimal(18, 2)) as paid_amount,
    cast(null as decimal(18, 2)) as allowed_amount,
    practitioner_id as prescribing_provider_npi,
    cast(null as varchar) as dispensing_provider_npi
from staging.medication
where
    coalesce(ndc_code, rxnorm_code) is not null
    or (source_code_type in ('ndc', 'rxnorm') and source_code is not null);
