-- core.medical_claim_final <- staging.medical_claim + core.medical_claim_adjudication: the final
-- version of every claim line, i.e. the lines whose adjudication outcome is 'final'.
-- Grain: claim_id, claim_line_number (one row per surviving line). Columns: every contract column
-- of staging.medical_claim, unchanged, plus its lineage (_source_file, _row_number).
-- Steps:
--   1. join each staging line to its outcome on the line's lineage (file, row);
--   2. keep 'final' lines. The rules (replacement wins, void removes, reversals net out, a
--      re-adjudicated line supersedes the earlier one, denied lines out) are documented in
--      sql/core/medical_claim_adjudication.sql and docs/core-model.md.
-- A view, not a table: copying the widest table (about 100 columns) cost more than all of its
-- readers' joins together (docs/benchmarks.md); each reader selects only the columns it needs.
create or replace view core.medical_claim_final as
select m.*
from staging.medical_claim as m
inner join core.medical_claim_adjudication as a
    on m._source_file = a._source_file and m._row_number = a._row_number
where a.adjudication_status = 'final';
