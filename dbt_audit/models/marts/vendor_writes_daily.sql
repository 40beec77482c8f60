-- External writes per UTC day × workflow × vendor × resource × status, from the ledger: one
-- write per (thread, step, target), with the requests it took.
select
    cast(created_at as date) as write_date,
    workflow,
    vendor,
    resource,
    status,
    count(*) as writes,
    sum(attempts) as attempts
from {{ ref('stg_side_effects') }}
group by all
