-- Who decides approvals and how fast: per person × workflow × approver role, the approvals
-- they approved or rejected (expiries are the scheduler's, not a person's).
select
    decided_by,
    workflow,
    approver_role,
    count(*) as decisions,
    count(*) filter (where decision = 'approved') as approved,
    count(*) filter (where decision = 'rejected') as rejected,
    avg(hours_to_decision) as avg_hours_to_decision,
    quantile_cont(hours_to_decision, 0.5) as p50_hours_to_decision,
    count(*) filter (where decided_before_due) / count(*) as share_decided_before_due
from {{ ref('fct_approvals') }}
where decision in ('approved', 'rejected')
group by decided_by, workflow, approver_role
