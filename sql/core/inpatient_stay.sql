-- core.inpatient_stay <- core.inpatient_stay_claim, core.medical_claim_final, staging.encounter:
-- acute inpatient stays from claims and from the EHR, with transfers chained.
-- Grain: stay_id ('c:' || first claim_id for claim stays, 'e:' || encounter_id for EHR stays).
-- Steps:
--   1. claim_stay: the claims of each stay (core.inpatient_stay_claim: bill type 11x, same person
--      and facility, overlapping or contiguous while still a patient) merged: admission = earliest,
--      discharge = latest; admit type and source, and the principal diagnosis (diagnosis_code_1)
--      from the stay's first claim; discharge disposition from its last claim (latest discharge);
--      DRG from the last claim that has one; principal procedure = procedure_code_1 of the first
--      claim that has one; procedure_codes = every ICD procedure code of the stay's claims, sorted
--      (array_agg; Spark: collect_set); paid_amount = sum over every line of the stay's claims.
--   2. ehr_stay: EHR encounters typed acute inpatient ('acute inpatient' / 'inpatient', the Tuva
--      Input Layer label; same mapping as encounter_link.sql), end date defaulting to the start.
--   3. de-duplication: an EHR stay that overlaps a claim stay of the same person (EHR admission on
--      or before the claim discharge and EHR discharge on or after the claim admission) is the same
--      stay; the claim stay wins (adjudicated, with DRG and payment) and records the EHR encounter
--      in ehr_encounter_id (the smallest, if several). Other EHR stays are kept as their own stays.
--   4. transfers (CMS hospital-wide readmission measure, "transfer": an acute admission the same or
--      next day): per person, stays ordered by admission; a stay is a transfer in when it is
--      admitted on or before the day after the previous stay's discharge and either the facility
--      differs or the previous stay's discharge disposition is 02 (discharged to a short-term
--      acute hospital, NUBC). A stay is a transfer out when the next stay is a transfer in, or when
--      its own disposition is 02 (even if the receiving stay is not in the data).
--   5. transfer chains: consecutive stays linked by transfers share transfer_chain_id = the first
--      stay's stay_id (a stay without transfers is a chain of one); transfer_chain_position counts
--      from 1.
--   6. length_of_stay = discharge - admission in days (0 for a same-day stay).
create or replace table core.inpatient_stay as
with stay_claim_line as (
    select
        s.stay_id,
        s.claim_order,
        s.facility_npi as claim_facility_npi,
        s.admission_date as claim_admission_date,
        s.discharge_date as claim_discharge_date,
        m.*
    from core.inpatient_stay_claim as s
    inner join core.medical_claim_final as m on s.claim_id = m.claim_id
),

claim_header as (
    select
        stay_id,
        claim_id,
        claim_order,
        min(person_id) as person_id,
        min(claim_facility_npi) as facility_npi,
        min(claim_admission_date) as admission_date,
        max(claim_discharge_date) as discharge_date,
        max(admit_type_code) as admit_type_code,
        max(admit_source_code) as admit_source_code,
        max(discharge_disposition_code) as discharge_disposition_code,
        max(diagnosis_code_1) as diagnosis_code_1,
        max(procedure_code_1) as procedure_code_1,
        max(drg_code) as drg_code,
        max(case when drg_code is not null then drg_code_type end) as drg_code_type,
        sum(paid_amount) as paid_amount
    from stay_claim_line
    group by stay_id, claim_id, claim_order
),

claim_header_ordered as (
    select
        *,
        first_value(admit_type_code ignore nulls) over first_to_last as stay_admit_type_code,
        first_value(admit_source_code ignore nulls) over first_to_last as stay_admit_source_code,
        first_value(diagnosis_code_1) over first_to_last as stay_principal_diagnosis_code,
        first_value(procedure_code_1 ignore nulls) over first_to_last
            as stay_principal_procedure_code,
        first_value(discharge_disposition_code) over last_to_first
            as stay_discharge_disposition_code,
        first_value(drg_code ignore nulls) over last_to_first as stay_drg_code,
        first_value(drg_code_type ignore nulls) over last_to_first as stay_drg_code_type
    from claim_header
    window
        first_to_last as (
            partition by stay_id
            order by claim_order
            rows between unbounded preceding and unbounded following
        ),
        last_to_first as (
            partition by stay_id
            order by discharge_date desc, claim_order desc
            rows between unbounded preceding and unbounded following
        )
),

procedure_position as (
    select position
    from (
        values
        (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13),
        (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25)
    ) as p (position)
),

stay_procedure_code as (
    select distinct
        l.stay_id,
        case p.position
            when 1 then l.procedure_code_1
            when 2 then l.procedure_code_2
            when 3 then l.procedure_code_3
            when 4 then l.procedure_code_4
            when 5 then l.procedure_code_5
            when 6 then l.procedure_code_6
            when 7 then l.procedure_code_7
            when 8 then l.procedure_code_8
            when 9 then l.procedure_code_9
            when 10 then l.procedure_code_10
            when 11 then l.procedure_code_11
            when 12 then l.procedure_code_12
            when 13 then l.procedure_code_13
            when 14 then l.procedure_code_14
            when 15 then l.procedure_code_15
            when 16 then l.procedure_code_16
            when 17 then l.procedure_code_17
            when 18 then l.procedure_code_18
            when 19 then l.procedure_code_19
            when 20 then l.procedure_code_20
            when 21 then l.procedure_code_21
            when 22 then l.procedure_code_22
            when 23 then l.procedure_code_23
            when 24 then l.procedure_code_24
            when 25 then l.procedure_code_25
        end as procedure_code
    from stay_claim_line as l
    cross join procedure_position as p
),

stay_procedures as (
    select
        stay_id,
        array_agg(procedure_code order by procedure_code) as procedure_codes
    from stay_procedure_code
    where procedure_code is not null
    group by stay_id
),

claim_stay as (
    select
        h.stay_id,
        min(h.person_id) as person_id,
        'medical_claim' as source,
        min(h.facility_npi) as facility_npi,
        min(h.admission_date) as admission_date,
        max(h.discharge_date) as discharge_date,
        min(h.stay_admit_type_code) as admit_type_code,
        min(h.stay_admit_source_code) as admit_source_code,
        min(h.stay_discharge_disposition_code) as discharge_disposition_code,
        min(h.stay_principal_diagnosis_code) as principal_diagnosis_code,
        min(h.stay_principal_procedure_code) as principal_procedure_code,
        min(h.stay_drg_code) as drg_code,
        min(h.stay_drg_code_type) as drg_code_type,
        cast(sum(h.paid_amount) as decimal(18, 2)) as paid_amount,
        count(*) as claim_count
    from claim_header_ordered as h
    group by h.stay_id
),

ehr_stay as (
    select
        'e:' || encounter_id as stay_id,
        encounter_id,
        person_id,
        'encounter' as source,
        facility_npi,
        encounter_start_date as admission_date,
        coalesce(encounter_end_date, encounter_start_date) as discharge_date,
        admit_type_code,
        admit_source_code,
        discharge_disposition_code,
        primary_diagnosis_code as principal_diagnosis_code,
        cast(null as varchar) as principal_procedure_code,
        drg_code,
        drg_code_type,
        paid_amount,
        0 as claim_count
    from staging.encounter
    where lower(trim(encounter_type)) in ('acute inpatient', 'inpatient', 'acute_inpatient')
),

ehr_stay_match as (
    select
        e.stay_id as ehr_stay_id,
        e.encounter_id,
        c.stay_id as claim_stay_id
    from ehr_stay as e
    inner join claim_stay as c
        on
            e.person_id = c.person_id
            and e.admission_date <= c.discharge_date
            and e.discharge_date >= c.admission_date
),

claim_stay_ehr as (
    select
        claim_stay_id,
        min(encounter_id) as ehr_encounter_id
    from ehr_stay_match
    group by claim_stay_id
),

all_stay as (
    select
        c.stay_id,
        c.person_id,
        c.source,
        c.facility_npi,
        c.admission_date,
        c.discharge_date,
        c.admit_type_code,
        c.admit_source_code,
        c.discharge_disposition_code,
        c.principal_diagnosis_code,
        c.principal_procedure_code,
        c.drg_code,
        c.drg_code_type,
        c.paid_amount,
        c.claim_count,
        m.ehr_encounter_id
    from claim_stay as c
    left join claim_stay_ehr as m on c.stay_id = m.claim_stay_id
    union all
    select
        e.stay_id,
        e.person_id,
        e.source,
        e.facility_npi,
        e.admission_date,
        e.discharge_date,
        e.admit_type_code,
        e.admit_source_code,
        e.discharge_disposition_code,
        e.principal_diagnosis_code,
        e.principal_procedure_code,
        e.drg_code,
        e.drg_code_type,
        e.paid_amount,
        e.claim_count,
        e.encounter_id as ehr_encounter_id
    from ehr_stay as e
    where not exists (select 1 from ehr_stay_match as m where m.ehr_stay_id = e.stay_id)
),

stay_sequence as (
    select
        *,
        lag(discharge_date) over person_order as prior_discharge_date,
        lag(facility_npi) over person_order as prior_facility_npi,
        lag(discharge_disposition_code) over person_order as prior_disposition_code
    from all_stay
    window person_order as (partition by person_id order by admission_date, discharge_date, stay_id)
),

transfer_in as (
    select
        *,
        coalesce(
            admission_date <= prior_discharge_date + interval 1 day
            and (
                facility_npi is distinct from prior_facility_npi
                or prior_disposition_code = '02'
            ),
            false
        ) as is_transfer_in
    from stay_sequence
),

transfer_chain as (
    select
        *,
        coalesce(
            lead(is_transfer_in) over person_order or discharge_disposition_code = '02',
            discharge_disposition_code = '02',
            false
        ) as is_transfer_out,
        sum(case when is_transfer_in then 0 else 1 end) over (
            partition by person_id
            order by admission_date, discharge_date, stay_id
            rows unbounded preceding
        ) as chain_number
    from transfer_in
    window person_order as (partition by person_id order by admission_date, discharge_date, stay_id)
)

select
    t.stay_id,
    t.person_id,
    t.source,
    t.facility_npi,
    t.admission_date,
    t.discharge_date,
    date_diff('day', t.admission_date, t.discharge_date) as length_of_stay,
    t.admit_type_code,
    t.admit_source_code,
    t.discharge_disposition_code,
    t.principal_diagnosis_code,
    t.principal_procedure_code,
    p.procedure_codes,
    t.drg_code,
    t.drg_code_type,
    t.paid_amount,
    t.claim_count,
    t.ehr_encounter_id,
    t.is_transfer_in,
    t.is_transfer_out,
    first_value(t.stay_id) over chain_order as transfer_chain_id,
    row_number() over chain_order as transfer_chain_position
from transfer_chain as t
left join stay_procedures as p on t.stay_id = p.stay_id
window chain_order as (
    partition by t.person_id, t.chain_number
    order by t.admission_date, t.discharge_date, t.stay_id
)
order by t.person_id, t.admission_date, t.stay_id;
