-- One row per approval: its decision (pending until decided), amount band, the hours to the
-- decision, and whether it was decided in time, expired or escalated.
select
    approval_id,
    workflow_run_id,
    workflow,
    kind,
    approver_role,
    status as decision,
    status <> 'pending' as is_decided,
    status = 'expired' as is_expired,
    escalated_at is not null as is_escalated,
    status in ('approved', 'rejected') and decided_at <= due_at as decided_before_due,
    amount,
    currency,
    {{ amount_band('amount') }} as amount_band,
    cost_centre,
    requested_by,
    decided_by,
    cast(requested_at as date) as requested_date,
    requested_at,
    due_at,
    decided_at,
    escalated_at,
    hours_to_decision
from {{ ref('stg_approvals') }}
