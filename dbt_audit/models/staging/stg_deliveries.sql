-- One row per webhook request received before the cut-off.
select
    cast(id as varchar) as delivery_id,
    {{ utc('received_at') }} as received_at,
    signature_version,
    event_count,
    stored_count,
    duplicate_count,
    rejected_count
from {{ source('orchestrator', 'webhook_deliveries') }}
where received_at < {{ as_of() }}
