-- core.inpatient_stay_claim <- core.medical_claim_final: which acute inpatient stay each final
-- acute inpatient institutional claim belongs to.
-- Grain: claim_id (one row per final claim with bill type 11x).
-- Steps:
--   1. acute_claim: final claims whose bill type starts '11' (hospital inpatient, NUBC UB-04
--      FL 4), one row per claim: its lines merged; admission = the header admission_date, else the
--      claim start; discharge = the header discharge_date, else the claim end, else the start;
--      facility = facility_npi, else billing_npi; the header codes (repeated on every line) taken
--      once per claim.
--   2. claims of the same person and facility, ordered by admission, belong to the same stay when
--      they overlap (admission before the latest discharge so far, or the same admission date), or
--      when they touch (admission on the latest discharge date or the next day) and the earlier
--      claim did not discharge the patient: patient status 30 "still a patient" (interim bills,
--      bill type frequency 2/3) or no patient status. A touching claim after a completed
--      discharge is a new stay: a same- or next-day readmission that the CMS readmission rules
--      must be able to see.
--   3. stay_id = 'c:' || claim_id of the stay's first claim (earliest admission, then discharge,
--      then claim_id): stable while that claim stays final. claim_order numbers the stay's claims.
create or replace table core.inpatient_stay_claim as
with acute_claim as (
    select
        claim_id,
        person_id,
        coalesce(min(facility_npi), min(billing_npi)) as facility_npi,
        coalesce(min(admission_date), min(claim_start_date)) as admission_date,
        coalesce(max(discharge_date), max(claim_end_date), max(claim_start_date))
            as discharge_date,
        max(discharge_disposition_code) as discharge_disposition_code,
        max(substring(bill_type_code, 3, 1)) as bill_frequency
    from core.medical_claim_final
    where substring(bill_type_code, 1, 2) = '11'
    group by claim_id, person_id
),

claim_ordered as (
    select
        *,
        max(discharge_date) over facility_history as prior_discharge,
        lag(admission_date) over facility_order as prior_admission,
        lag(discharge_disposition_code) over facility_order as prior_disposition,
        lag(bill_frequency) over facility_order as prior_bill_frequency
    from acute_claim
    window
        facility_order as (
            partition by person_id, facility_npi
            order by admission_date, discharge_date, claim_id
        ),
        facility_history as (
            partition by person_id, facility_npi
            order by admission_date, discharge_date, claim_id
            rows between unbounded preceding and 1 preceding
        )
),

claim_flagged as (
    select
        *,
        case
            when prior_discharge is null then 1
            when admission_date < prior_discharge then 0
            when admission_date = prior_admission then 0
            when
                admission_date <= prior_discharge + interval 1 day
                and (
                    prior_disposition is null
                    or prior_disposition = '30'
                    or prior_bill_frequency in ('2', '3')
                )
                then 0
            else 1
        end as starts_stay
    from claim_ordered
),

claim_stay as (
    select
        *,
        sum(starts_stay) over (
            partition by person_id, facility_npi
            order by admission_date, discharge_date, claim_id
            rows unbounded preceding
        ) as stay_number
    from claim_flagged
)

select
    claim_id,
    'c:' || first_value(claim_id) over stay_window as stay_id,
    person_id,
    facility_npi,
    admission_date,
    discharge_date,
    discharge_disposition_code,
    row_number() over stay_window as claim_order
from claim_stay
window stay_window as (
    partition by person_id, facility_npi, stay_number
    order by admission_date, discharge_date, claim_id
)
order by person_id, admission_date, claim_id;
