-- One row per budget commitment (a purchase order) made before the cut-off.
select
    id as commitment_id,
    cost_centre,
    fiscal_year,
    purchase_order,
    deal_id,
    amount,
    currency,
    workflow_run_id,
    {{ utc('created_at') }} as committed_at
from {{ source('orchestrator', 'budget_commitments') }}
where created_at < {{ as_of() }}
