-- core.encounter_link <- core.medical_claim_final, core.inpatient_stay_claim, core.inpatient_stay,
-- staging.encounter: which encounter each final claim and each EHR encounter belongs to.
-- Grain: source ('medical_claim' | 'encounter'), source_id (claim_id | EHR encounter_id).
-- Steps (code lists: NUBC UB-04 bill types and revenue codes, CMS place-of-service codes, CPT/HCPCS
-- visit codes; see docs/core-model.md):
--   1. claim_profile: one row per final claim, its lines merged; flags for ED revenue 0450-0459,
--      observation revenue 0762, ED visit codes 99281-99285 or POS 23, observation codes
--      (99217-99220, 99224-99226, G0378, G0379, or hospital care codes 99221-99239 billed at an
--      outpatient hospital POS 19/22, which is how observation is billed since 2023), inpatient
--      professional services (POS 21 or 99221-99239 elsewhere), telehealth (POS 02/10 or modifier
--      95/GT on any line), office visits (E/M 99202-99215, preventive 99381-99397, G0402, G0438,
--      G0439, transitional care 99495/99496 at POS 11/19/22/49/50/71/72).
--   2. claim_typed: institutional claims by bill type: 11x acute inpatient; 18x/21x/22x snf;
--      32x/33x/34x home health; 81x/82x hospice; 13x/85x with observation revenue or codes ->
--      observation (an ED visit that turns into an observation stay is the observation stay),
--      else with ED revenue or ED codes -> emergency department; 71x/73x/77x (clinics) ->
--      telehealth when flagged, else office; anything else 'other'. Professional claims: ED
--      (POS 23 or ED codes) > observation > inpatient professional (resolved in step 3) >
--      telehealth > office > other.
--   3. stays: an 11x claim belongs to its stay (core.inpatient_stay_claim). An ED or observation
--      claim starting on the admission day or the day before belongs to that stay (the ED visit
--      that led to the admission; CMS bundles such outpatient services into the inpatient claim,
--      the 3-day payment window). An inpatient professional claim starting between admission and
--      discharge belongs to that stay; one that matches no stay is 'other'. The closest admission
--      wins when several stays qualify.
--   4. other claims: one encounter per person, type and start date ('c:' || smallest claim_id):
--      claim lines of a claim are one encounter, and an institutional and the professional claims
--      of the same visit day and type are one visit.
--   5. EHR encounters, typed from their Tuva Input Layer label: acute inpatient stays belong to
--      their stay in core.inpatient_stay (their own 'e:' stay, or the claim stay that absorbed them);
--      an ED or observation encounter the day before or on an admission belongs to that stay; any
--      other EHR encounter with the same person, type and start date as a claim encounter is that
--      claim encounter (the claim wins); the rest are their own encounter ('e:' || encounter_id).
-- No final sort (issue 9): sorting the table cost a tenth to a fifth of building it at 100k
-- patients and held memory at 1M; readers join or filter by person, and the table's row order is
-- not part of its contract.
create or replace table core.encounter_link as
with claim_line_flag as (
    select
        claim_id,
        person_id,
        lower(claim_type) as claim_type,
        bill_type_code,
        claim_start_date,
        coalesce(claim_end_date, claim_start_date) as claim_end_date,
        coalesce(revenue_center_code between '0450' and '0459', false) as is_ed_revenue,
        coalesce(revenue_center_code = '0762', false) as is_observation_revenue,
        coalesce(
            hcpcs_code between '99281' and '99285' or place_of_service_code = '23', false
        ) as is_ed_service,
        coalesce(
            hcpcs_code in (
                '99217', '99218', '99219', '99220', '99224', '99225', '99226', 'G0378', 'G0379'
            )
            or (hcpcs_code between '99221' and '99239' and place_of_service_code in ('19', '22')),
            false
        ) as is_observation_service,
        coalesce(
            place_of_service_code = '21'
            or (
                hcpcs_code between '99221' and '99239'
                and coalesce(place_of_service_code, '') not in ('19', '22')
            ),
            false
        ) as is_inpatient_professional,
        coalesce(
            place_of_service_code in ('02', '10')
            or '95' in (
                hcpcs_modifier_1, hcpcs_modifier_2, hcpcs_modifier_3, hcpcs_modifier_4,
                hcpcs_modifier_5
            )
            or 'GT' in (
                hcpcs_modifier_1, hcpcs_modifier_2, hcpcs_modifier_3, hcpcs_modifier_4,
                hcpcs_modifier_5
            ),
            false
        ) as is_telehealth,
        coalesce(
            (
                hcpcs_code between '99202' and '99215'
                or hcpcs_code between '99381' and '99397'
                or hcpcs_code in ('G0402', 'G0438', 'G0439', '99495', '99496')
            )
            and place_of_service_code in ('11', '19', '22', '49', '50', '71', '72'),
            false
        ) as is_office_visit
    from core.medical_claim_final
),

claim_profile as (
    select
        claim_id,
        min(person_id) as person_id,
        max(claim_type) as claim_type,
        substring(max(bill_type_code), 1, 2) as bill_type_prefix,
        min(claim_start_date) as start_date,
        max(claim_end_date) as end_date,
        max(case when is_ed_revenue then 1 else 0 end) as has_ed_revenue,
        max(case when is_observation_revenue then 1 else 0 end) as has_observation_revenue,
        max(case when is_ed_service then 1 else 0 end) as has_ed_service,
        max(case when is_observation_service then 1 else 0 end) as has_observation_service,
        max(case when is_inpatient_professional then 1 else 0 end) as has_inpatient_professional,
        max(case when is_telehealth then 1 else 0 end) as has_telehealth,
        max(case when is_office_visit then 1 else 0 end) as has_office_visit
    from claim_line_flag
    group by claim_id
),

claim_typed as (
    select
        *,
        case
            when claim_type = 'institutional' or bill_type_prefix is not null
                then case
                    when bill_type_prefix = '11' then 'acute_inpatient'
                    when bill_type_prefix in ('18', '21', '22') then 'snf'
                    when bill_type_prefix in ('32', '33', '34') then 'home_health'
                    when bill_type_prefix in ('81', '82') then 'hospice'
                    when
                        bill_type_prefix in ('13', '85')
                        and (has_observation_revenue = 1 or has_observation_service = 1)
                        then 'observation'
                    when
                        bill_type_prefix in ('13', '85')
                        and (has_ed_revenue = 1 or has_ed_service = 1)
                        then 'emergency_department'
                    when bill_type_prefix in ('71', '73', '77') and has_telehealth = 1
                        then 'telehealth'
                    when bill_type_prefix in ('71', '73', '77') then 'office'
                    else 'other'
                end
            when has_ed_service = 1 then 'emergency_department'
            when has_observation_service = 1 then 'observation'
            when has_inpatient_professional = 1 then 'inpatient_professional'
            when has_telehealth = 1 then 'telehealth'
            when has_office_visit = 1 then 'office'
            else 'other'
        end as claim_encounter_type
    from claim_profile
),

claim_in_stay as (
    select
        c.claim_id,
        coalesce(b.stay_id, s.stay_id) as stay_id,
        row_number() over (
            partition by c.claim_id
            order by
                case when b.stay_id is not null then 0 else 1 end,
                abs(date_diff('day', s.admission_date, c.start_date)),
                s.stay_id
        ) as stay_rank
    from claim_typed as c
    left join core.inpatient_stay_claim as b on c.claim_id = b.claim_id
    left join core.inpatient_stay as s
        on
            b.claim_id is null
            and c.person_id = s.person_id
            and (
                (
                    c.claim_encounter_type in ('emergency_department', 'observation')
                    and c.start_date >= s.admission_date - interval 1 day
                    and c.start_date <= s.admission_date
                )
                or (
                    c.claim_encounter_type = 'inpatient_professional'
                    and c.start_date >= s.admission_date
                    and c.start_date <= s.discharge_date
                )
            )
    where b.stay_id is not null or s.stay_id is not null
),

claim_encounter as (
    select
        c.claim_id,
        c.person_id,
        c.start_date,
        c.end_date,
        c.claim_encounter_type,
        st.stay_id,
        case
            when st.stay_id is not null then 'acute_inpatient'
            when c.claim_encounter_type = 'inpatient_professional' then 'other'
            else c.claim_encounter_type
        end as encounter_type
    from claim_typed as c
    left join claim_in_stay as st on c.claim_id = st.claim_id and st.stay_rank = 1
),

claim_link as (
    select
        'medical_claim' as source,
        claim_id as source_id,
        person_id,
        coalesce(
            stay_id,
            'c:' || min(claim_id) over (partition by person_id, encounter_type, start_date)
        ) as encounter_id,
        encounter_type,
        claim_encounter_type as source_encounter_type,
        stay_id,
        start_date,
        end_date
    from claim_encounter
),

ehr_typed as (
    select
        encounter_id,
        person_id,
        encounter_type as source_encounter_type,
        encounter_start_date as start_date,
        coalesce(encounter_end_date, encounter_start_date) as end_date,
        case
            when lower(trim(encounter_type)) in ('acute inpatient', 'inpatient', 'acute_inpatient')
                then 'acute_inpatient'
            when
                lower(trim(encounter_type)) in (
                    'emergency department', 'emergency', 'emergency_department', 'ed'
                )
                then 'emergency_department'
            when lower(trim(encounter_type)) = 'observation' then 'observation'
            when
                lower(trim(encounter_type)) in (
                    'office visit', 'office', 'office_visit', 'ambulatory', 'wellness',
                    'outpatient'
                )
                then 'office'
            when
                lower(trim(encounter_type)) in (
                    'telehealth', 'telemedicine', 'virtual', 'telehealth visit'
                )
                then 'telehealth'
            when
                lower(trim(encounter_type)) in (
                    'snf', 'skilled nursing', 'skilled nursing facility',
                    'inpatient skilled nursing', 'outpatient skilled nursing'
                )
                then 'snf'
            when lower(trim(encounter_type)) in ('home health', 'home_health') then 'home_health'
            when
                lower(trim(encounter_type)) in (
                    'hospice', 'inpatient hospice', 'outpatient hospice'
                )
                then 'hospice'
            else 'other'
        end as encounter_type
    from staging.encounter
),

ehr_in_stay as (
    select
        e.encounter_id,
        s.stay_id,
        row_number() over (
            partition by e.encounter_id
            order by
                case when s.stay_id = 'e:' || e.encounter_id then 0 else 1 end,
                abs(date_diff('day', s.admission_date, e.start_date)),
                s.stay_id
        ) as stay_rank
    from ehr_typed as e
    inner join core.inpatient_stay as s
        on
            e.person_id = s.person_id
            and (
                (
                    e.encounter_type = 'acute_inpatient'
                    and (
                        s.stay_id = 'e:' || e.encounter_id
                        or (
                            s.source = 'medical_claim'
                            and e.start_date <= s.discharge_date
                            and e.end_date >= s.admission_date
                        )
                    )
                )
                or (
                    e.encounter_type in ('emergency_department', 'observation')
                    and e.start_date >= s.admission_date - interval 1 day
                    and e.start_date <= s.admission_date
                )
            )
),

claim_visit as (
    select distinct
        person_id,
        encounter_type,
        start_date,
        encounter_id
    from claim_link
    where stay_id is null
),

ehr_link as (
    select
        'encounter' as source,
        e.encounter_id as source_id,
        e.person_id,
        coalesce(st.stay_id, v.encounter_id, 'e:' || e.encounter_id) as encounter_id,
        case when st.stay_id is not null then 'acute_inpatient' else e.encounter_type end
            as encounter_type,
        e.source_encounter_type,
        st.stay_id,
        e.start_date,
        e.end_date
    from ehr_typed as e
    left join ehr_in_stay as st on e.encounter_id = st.encounter_id and st.stay_rank = 1
    left join claim_visit as v
        on
            st.stay_id is null
            and e.person_id = v.person_id
            and e.encounter_type = v.encounter_type
            and e.start_date = v.start_date
)

select * from claim_link
union all
select * from ehr_link;
