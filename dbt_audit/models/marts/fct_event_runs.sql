-- One row per HubSpot event × the workflow run it started (an event may start several
-- workflows; runs started by another workflow are left out): seconds from receipt to the
-- run's start and end.
select
    events.envelope_id,
    runs.workflow_run_id,
    runs.workflow,
    events.subscription_type,
    cast(events.received_at as date) as received_date,
    events.received_at,
    runs.requested_at,
    runs.started_at,
    runs.finished_at,
    {{ seconds_between('events.received_at', 'runs.started_at') }} as seconds_to_start,
    {{ seconds_between('events.received_at', 'runs.finished_at') }} as seconds_to_finish
from {{ ref('stg_run_events') }} as run_events
inner join {{ ref('stg_envelopes') }} as events using (envelope_id)
inner join {{ ref('stg_workflow_runs') }} as runs using (workflow_run_id)
where runs.parent_run_id is null
