-- core.medical_claim_adjudication <- staging.medical_claim: the adjudication outcome of every claim
-- line received, so that no line leaves the final claims without a recorded reason.
-- One row per staging line (_source_file, _row_number); core.medical_claim_final keeps 'final'.
-- Steps:
--   1. line_received: each line with its claim family and arrival order. The family is the claim_id
--      without a version suffix '-A<n>' (adjustment/replacement), '-V<n>' (void/reversal) or
--      '-R<n>' (reversal) - the convention of popcare's synthetic generator and of payer feeds
--      that re-key adjusted claims; without a suffix the family is the claim_id itself. Arrival
--      order within a family: paid_date (unknown first), then file, then row.
--   2. version_status: institutional versions by bill type frequency (3rd digit; NUBC UB-04 FL 4:
--      7 = replacement of prior claim, 8 = void/cancel of prior claim). A version is a claim_id
--      with a bill type. In a family whose latest frequency-7/8 line is a void, every line leaves
--      ('voided'). In a family whose latest is a replacement, the final version is that
--      replacement's claim_id and bill type; every other version's lines leave ('replaced');
--      successive replacements under one claim_id are resolved line by line in step 4. This is
--      the "final action" idea of CMS's CCLF claims: the last adjustment not later cancelled
--      stands.
--   3. reversals: a line with a negative paid, allowed or charge amount or a negative unit count
--      is a reversal. It pairs first with a line of the same family and claim_line_number whose
--      amounts and units it negates exactly (the k-th such reversal with the k-th such original,
--      in arrival order); a reversal that negates no line exactly (re-priced, rounded) then pairs
--      with the earliest remaining line of the same family and line number. The original leaves ('reversed'), and so does every reversal ('reversal'),
--      paired or not: a reversal is never a service.
--   4. superseded: if a family + claim_line_number is still present more than once, the latest
--      arrival is the line's final adjudication and the earlier ones leave ('superseded'): the
--      contract's grain is one row per claim line.
--   5. denied: paid_amount = 0 and allowed_amount = 0 leaves ('denied'), except lines billed at a
--      $0 charge and CPT Category II codes (4 digits + F), which report quality data and are
--      never paid (CMS PQRS/MIPS claims-based reporting: quality-data codes are non-payable CPT II
--      and G-codes sent with a $0.00 line charge, or a nominal $0.01). A null amount is unknown,
--      not zero: header-level amounts on line 1 only do not deny the other lines.
--   6. everything else is 'final'.
-- Steps 2-4 can only change a line of a family with a frequency 7/8 bill, a reversal or a claim
-- line number received twice (adjusted_family, about 4% of families): they run on those families
-- only (adjusted_status, the few lines that leave there); every other line goes to steps 5-6.
-- Performance (issue 9): at 1M patients running steps 2-4 over all 20.7 M lines took 180 s;
-- restricted to adjusted families, 60 s (docs/benchmarks.md).
create or replace table core.medical_claim_adjudication as
with line_received as (
    select
        claim_id,
        claim_line_number,
        claim_type,
        bill_type_code,
        paid_date,
        paid_amount,
        allowed_amount,
        charge_amount,
        service_unit_quantity,
        hcpcs_code,
        _source_file,
        _row_number,
        regexp_replace(claim_id, '-[AVR][0-9]*$', '') as claim_family_id,
        substring(bill_type_code, 3, 1) as bill_frequency,
        coalesce(
            paid_amount < 0
            or allowed_amount < 0
            or charge_amount < 0
            or service_unit_quantity < 0,
            false
        ) as is_reversal
    from staging.medical_claim
),

line_arrival as (
    select
        *,
        row_number() over (
            partition by claim_family_id
            order by paid_date asc nulls first, _source_file asc, _row_number asc
        ) as arrival_order,
        -- Same partition and order as arrival_order, so one sort serves both.
        max(case when bill_frequency in ('7', '8') or is_reversal then 1 else 0 end) over (
            partition by claim_family_id
            order by paid_date asc nulls first, _source_file asc, _row_number asc
            rows between unbounded preceding and unbounded following
        ) as has_adjustment
    from line_received
),

repeated_line as (
    select claim_family_id
    from line_received
    group by claim_family_id, claim_line_number
    having count(*) > 1
),

adjusted_family as (
    select claim_family_id
    from line_arrival
    where has_adjustment = 1
    union
    select claim_family_id
    from repeated_line
),

line_ordered as (
    select l.*
    from line_arrival as l
    inner join adjusted_family as f on l.claim_family_id = f.claim_family_id
),

family_adjustment as (
    select
        claim_family_id,
        max(case when bill_frequency = '8' then arrival_order end) as last_void_order,
        max(case when bill_frequency = '7' then arrival_order end) as last_replacement_order
    from line_ordered
    where bill_frequency in ('7', '8')
    group by claim_family_id
),

final_replacement as (
    select
        l.claim_family_id,
        l.claim_id,
        l.bill_type_code
    from line_ordered as l
    inner join family_adjustment as a
        on l.claim_family_id = a.claim_family_id and l.arrival_order = a.last_replacement_order
),

version_status as (
    select
        l.*,
        case
            when a.last_void_order > coalesce(a.last_replacement_order, 0) then 'voided'
            when
                r.claim_id is not null
                and not (l.claim_id = r.claim_id and l.bill_type_code = r.bill_type_code)
                then 'replaced'
        end as version_status
    from line_ordered as l
    left join family_adjustment as a on l.claim_family_id = a.claim_family_id
    left join final_replacement as r on l.claim_family_id = r.claim_family_id
),

current_version as (
    select *
    from version_status
    where version_status is null
),

exact_candidate as (
    select
        *,
        row_number() over (
            partition by
                claim_family_id, claim_line_number, is_reversal,
                abs(paid_amount), abs(allowed_amount), abs(charge_amount),
                abs(service_unit_quantity)
            order by arrival_order
        ) as pair_order
    from current_version
),

exact_pair as (
    select
        o._source_file as original_file,
        o._row_number as original_row,
        r._source_file as reversal_file,
        r._row_number as reversal_row
    from exact_candidate as o
    inner join exact_candidate as r
        on
            o.claim_family_id = r.claim_family_id
            and o.claim_line_number = r.claim_line_number
            and o.pair_order = r.pair_order
            and abs(o.paid_amount) is not distinct from abs(r.paid_amount)
            and abs(o.allowed_amount) is not distinct from abs(r.allowed_amount)
            and abs(o.charge_amount) is not distinct from abs(r.charge_amount)
            and abs(o.service_unit_quantity) is not distinct from abs(r.service_unit_quantity)
    where not o.is_reversal and r.is_reversal
),

unpaired as (
    select
        c.*,
        row_number() over (
            partition by c.claim_family_id, c.claim_line_number, c.is_reversal
            order by c.arrival_order
        ) as fallback_order
    from current_version as c
    where
        -- Two equality tests rather than one 'or': each is a hash anti-join (an 'or' of two
        -- keys would compare every line with every pair).
        not exists (
            select 1
            from exact_pair as p
            where p.original_file = c._source_file and p.original_row = c._row_number
        )
        and not exists (
            select 1
            from exact_pair as p
            where p.reversal_file = c._source_file and p.reversal_row = c._row_number
        )
),

reversed_original as (
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

reversal_status as (
    select
        c.*,
        case
            when c.is_reversal then 'reversal'
            when ro._row_number is not null then 'reversed'
        end as reversal_status
    from current_version as c
    left join reversed_original as ro
        on c._source_file = ro._source_file and c._row_number = ro._row_number
),

line_latest as (
    select
        _source_file,
        _row_number,
        row_number() over (
            partition by claim_family_id, claim_line_number
            order by arrival_order desc
        ) as recency
    from reversal_status
    where reversal_status is null
),

adjusted_status as (
    select
        _source_file,
        _row_number,
        version_status as adjudication_status
    from version_status
    where version_status is not null
    union all
    select
        _source_file,
        _row_number,
        reversal_status
    from reversal_status
    where reversal_status is not null
    union all
    select
        _source_file,
        _row_number,
        'superseded'
    from line_latest
    where recency > 1
)

select
    l.claim_id,
    l.claim_line_number,
    l.claim_type,
    l.claim_family_id,
    l.bill_type_code,
    l.paid_date,
    l.arrival_order,
    l._source_file,
    l._row_number,
    coalesce(
        s.adjudication_status,
        case
            when
                l.paid_amount = 0
                and l.allowed_amount = 0
                and coalesce(l.charge_amount, -1) <> 0
                and coalesce(l.hcpcs_code, '') not like '____F'
                then 'denied'
            else 'final'
        end
    ) as adjudication_status
from line_arrival as l
left join adjusted_status as s
    on l._source_file = s._source_file and l._row_number = s._row_number;
