-- One row per audit log entry recorded before the cut-off (without the before/after images).
select
    id as audit_id,
    seq,
    {{ utc('occurred_at') }} as occurred_at,
    actor,
    action,
    entity_type,
    entity_id,
    correlation_id,
    policy_version
from {{ source('orchestrator', 'audit_log') }}
where occurred_at < {{ as_of() }}
