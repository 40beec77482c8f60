-- HubSpot events per UTC day of receipt × subscription type × status, and how many started
-- a workflow run (unrouted events start none).
with runs_per_event as (
    select envelope_id, count(*) as runs
    from {{ ref('stg_run_events') }}
    group by envelope_id
)
select
    cast(events.received_at as date) as received_date,
    events.subscription_type,
    events.status,
    count(*) as events,
    count(runs_per_event.envelope_id) as events_with_run,
    count(*) - count(runs_per_event.envelope_id) as events_without_run
from {{ ref('stg_envelopes') }} as events
left join runs_per_event using (envelope_id)
group by all
