-- The number of rows of one gated table ({{ table }} is a quoted schema.table from popcare's own
-- list of gated tables, never from data).
select count(*) as row_count
from {{ table }};
