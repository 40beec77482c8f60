-- One row per approval requested before the cut-off; a decision after it counts as pending.
-- Procurement approvals carry the deal's amount, currency and cost centre in their proposal.
with decided as (
    select
        *,
        case when decided_at < {{ as_of() }} then decided_at end as decided_by_cut_off,
        case when escalated_at < {{ as_of() }} then escalated_at end as escalated_by_cut_off
    from {{ source('orchestrator', 'approvals') }}
    where created_at < {{ as_of() }}
)
select
    id as approval_id,
    workflow_run_id,
    workflow,
    kind,
    approver_role,
    case when decided_by_cut_off is null then 'pending' else status end as status,
    requested_by,
    try_cast(proposal ->> 'amount' as decimal(18, 2)) as amount,
    proposal ->> 'currency' as currency,
    proposal -> 'cost_centre' ->> 'code' as cost_centre,
    policy_version,
    {{ utc('created_at') }} as requested_at,
    {{ utc('due_at') }} as due_at,
    {{ utc('decided_by_cut_off') }} as decided_at,
    case when decided_by_cut_off is not null then decided_by end as decided_by,
    {{ utc('escalated_by_cut_off') }} as escalated_at,
    {{ seconds_between('created_at', 'decided_by_cut_off') }} / 3600.0 as hours_to_decision
from decided
