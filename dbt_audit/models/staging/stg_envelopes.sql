-- One row per stored HubSpot event received before the build's cut-off; times in UTC.
select
    id as envelope_id,
    portal_id,
    event_id,
    subscription_type,
    object_type,
    object_id,
    property_name,
    cast(correlation_id as varchar) as correlation_id,
    cast(delivery_id as varchar) as delivery_id,
    origin,
    status,
    delivery_count,
    {{ utc('occurred_at') }} as occurred_at,
    {{ utc('received_at') }} as received_at
from {{ source('orchestrator', 'event_envelopes') }}
where received_at < {{ as_of() }}
