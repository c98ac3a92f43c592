-- converted.medical_claim <- Synthea claims.csv + claims_transactions.csv (+ converted.encounter,
-- payers.csv, medications.csv): one row per charge line of an encounter's claim.
-- Steps:
--   1. claims that bill a medication order (every charge line is an RxNorm code ordered at that
--      encounter) are left out: they are pharmacy claims, and pharmacy_claim needs an NDC, which
--      Synthea does not have;
--   2. claims_transactions is a ledger: a CHARGE row opens a line, and the PAYMENT, TRANSFEROUT
--      and TRANSFERIN rows after it (in CHARGEID order) settle it. claim_line_number counts the
--      CHARGE rows;
--   3. who holds a line's balance: the CHARGE row's TRANSFERTYPE ('1' primary payer, 'p'
--      patient), then each TRANSFERIN's ('2' secondary payer, 'p' patient). paid_amount = the
--      payments made while the primary payer held the balance, copays excluded (per claim it
--      equals encounters.csv PAYER_COVERAGE for 311 of the sample's 388 encounter claims);
--      copayment_amount = COPAY payments; charge_amount = the CHARGE amount;
--   4. claim_type from the encounter's type: stays, emergency, home health and hospice are billed
--      by facilities -> institutional; every other class -> professional. Synthea's own
--      HEALTHCARECLAIMTYPEID1 is not used: it types hospice claims professional and splits one
--      ambulatory class both ways;
--   5. admission and discharge dates for stays (acute inpatient, snf, hospice) from the encounter;
--      a line's TODATE before its FROMDATE (Synthea's 1970-01-01 for "no end") means a one-day
--      line;
--   6. no diagnosis, procedure, HCPCS, revenue, bill type or place-of-service codes: Synthea bills
--      SNOMED CT, CVX and RxNorm codes, which none of these columns may hold, and nothing in the
--      export states a bill type or place of service. diagnosis_code_type stays null. No NPIs.
create or replace table converted.medical_claim as
with ledger_row as (
    select
        t.*,
        sum(case when t.type = 'CHARGE' then 1 else 0 end) over (
            partition by t.claimid order by t.chargeid rows unbounded preceding
        ) as claim_line_number
    from synthea.claims_transactions as t
),

ledger_holder as (
    select
        *,
        last_value(
            case when type in ('CHARGE', 'TRANSFERIN') then upper(transfertype) end ignore nulls
        ) over (
            partition by claimid, claim_line_number order by chargeid rows unbounded preceding
        ) as balance_holder
    from ledger_row
    where claim_line_number > 0
),

claim_line as (
    select
        claimid as claim_id,
        claim_line_number,
        min(fromdate) filter (where type = 'CHARGE') as line_start,
        -- Synthea writes TODATE 1970-01-01 (time zero) when a service has no end of its own
        -- (immunisations, medication orders): such a line ends the day it starts.
        coalesce(
            max(todate) filter (where type = 'CHARGE' and todate >= fromdate),
            min(fromdate) filter (where type = 'CHARGE')
        ) as line_end,
        sum(amount) filter (where type = 'CHARGE') as charge_amount,
        coalesce(sum(payments) filter (
            where type = 'PAYMENT' and balance_holder = '1' and method is distinct from 'COPAY'
        ), 0) as paid_amount,
        coalesce(sum(payments) filter (where type = 'PAYMENT' and method = 'COPAY'), 0)
            as copayment_amount
    from ledger_holder
    group by claimid, claim_line_number
),

medication_claim as (
    select t.claimid as claim_id
    from synthea.claims_transactions as t
    inner join synthea.claims as c on c.id = t.claimid
    left join synthea.medications as m
        on m.encounter = c.appointmentid and m.code = t.procedurecode
    where t.type = 'CHARGE'
    group by t.claimid
    having bool_and(m.code is not null)
)

select
    line.claim_id,
    line.claim_line_number,
    case
        when e.encounter_type in (
            'acute inpatient', 'emergency department', 'snf', 'home health', 'hospice'
        ) then 'institutional'
        else 'professional'
    end as claim_type,
    c.patientid as person_id,
    payer.name as payer,
    coalesce(e.encounter_start_date, min(cast(line.line_start as date)) over by_claim)
        as claim_start_date,
    coalesce(e.encounter_end_date, max(cast(line.line_end as date)) over by_claim)
        as claim_end_date,
    cast(line.line_start as date) as claim_line_start_date,
    cast(line.line_end as date) as claim_line_end_date,
    case
        when e.encounter_type in ('acute inpatient', 'snf', 'hospice')
            then e.encounter_start_date
    end as admission_date,
    case
        when e.encounter_type in ('acute inpatient', 'snf', 'hospice')
            then e.encounter_end_date
    end as discharge_date,
    line.paid_amount,
    line.charge_amount,
    line.copayment_amount,
    'synthea' as data_source,
    'claims_transactions.csv' as file_name
from claim_line as line
inner join synthea.claims as c on c.id = line.claim_id
left join converted.encounter as e on e.encounter_id = c.appointmentid
left join synthea.payers as payer on payer.id = c.primarypatientinsuranceid
where line.claim_id not in (select claim_id from medication_claim)
window by_claim as (partition by line.claim_id);
