-- Approval turnaround by workflow × approver role × decision × amount band: how many, the
-- hours to decision, and the shares decided before the due time and escalated.
select
    workflow,
    approver_role,
    decision,
    amount_band,
    count(*) as approvals,
    count(*) filter (where is_decided) as decided,
    avg(hours_to_decision) as avg_hours_to_decision,
    quantile_cont(hours_to_decision, 0.5) as p50_hours_to_decision,
    quantile_cont(hours_to_decision, 0.95) as p95_hours_to_decision,
    count(*) filter (where decided_before_due) as decided_before_due,
    count(*) filter (where is_escalated) as escalated,
    count(*) filter (where decided_before_due)
        / nullif(count(*) filter (where is_decided), 0) as share_decided_before_due,
    count(*) filter (where is_escalated) / count(*) as share_escalated
from {{ ref('fct_approvals') }}
group by workflow, approver_role, decision, amount_band
