-- core.medical_claim_final <- staging.medical_claim + core.medical_claim_adjudication: the final
-- version of every claim line, i.e. the lines whose adjudication outcome is 'final'.
-- Grain: claim_id, claim_line_number (one row per surviving line). Columns: every contract column
-- of staging.medical_claim, unchanged, plus its lineage (_source_file, _row_number).
-- Steps:
--   1. core.medical_claim_adjudication has one row per staging line (file, row);
--   2. keep the lines whose outcome is 'final': every staging line except those with another
--      outcome (an anti-join on the few non-final lines, about 5%, instead of an inner join of
--      two 20 M-row tables at 1M patients: the hash table holds the small side). The rules
--      (replacement wins, void removes, reversals net out, a re-adjudicated line supersedes the
--      earlier one, denied lines out) are documented in sql/core/medical_claim_adjudication.sql
--      and docs/core-model.md.
-- A view, not a table: copying the widest table (about 100 columns) cost more than all of its
-- readers' joins together (docs/benchmarks.md); each reader selects only the columns it needs.
create or replace view core.medical_claim_final as
select m.*
from staging.medical_claim as m
where not exists (
    select 1
    from core.medical_claim_adjudication as a
    where
        a.adjudication_status <> 'final'
        and a._source_file = m._source_file
        and a._row_number = m._row_number
);
