-- Audit log entries per UTC day × action × entity type × actor: who did what, how often.
select
    cast(occurred_at as date) as day,
    action,
    entity_type,
    actor,
    count(*) as actions
from {{ ref('stg_audit_log') }}
group by all
