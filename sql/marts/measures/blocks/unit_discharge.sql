-- Unit block discharge: one unit per acute inpatient discharge (core.inpatient_stay), for
-- episode measures such as follow-up after hospitalisation.
-- Params: window (discharge dates), principal_value_sets (empty = any principal diagnosis),
-- exclude_dispositions (NUBC patient status codes that end the episode: death, transfer).
-- Rules:
--   1. a direct transfer is one episode: the unit is the last stay of its transfer chain and its
--      discharge date is the anchor (HEDIS FUH/TRC: "if the discharge is followed by a direct
--      transfer, use the discharge from the facility to which the member was transferred").
--   2. the episode qualifies when any stay of the chain has a principal diagnosis in the value
--      sets (HEDIS FUH: "principal diagnosis of mental illness or intentional self-harm").
--   3. discharges with a disposition in exclude_dispositions are not units (died in hospital:
--      no follow-up is possible).
-- Output: unit_id (= stay_id), person_id, episode_id (= stay_id), anchor_date (= discharge),
-- unit_label.
with stay as (
    select
        s.*,
        max(s.transfer_chain_position) over (partition by s.transfer_chain_id) as chain_length
    from core.inpatient_stay as s
),

qualifying_chain as (
    select distinct s.transfer_chain_id
    from core.inpatient_stay as s
    inner join marts.measure_value_set as v
        on v.code_system = 'icd-10-cm' and s.principal_diagnosis_code = v.code
    where v.value_set in ({{ principal_value_sets }})
)

select
    s.stay_id as unit_id,
    s.person_id,
    s.stay_id as episode_id,
    s.discharge_date as anchor_date,
    'discharged ' || cast(s.discharge_date as varchar) as unit_label
from stay as s
where
    s.transfer_chain_position = s.chain_length
    and s.discharge_date between {{ window_from }} and {{ window_to }}
    and not coalesce(s.discharge_disposition_code in ({{ exclude_dispositions }}), false)
    and (
        {{ principal_value_sets_empty }}
        or s.transfer_chain_id in (select q.transfer_chain_id from qualifying_chain as q)
    )
