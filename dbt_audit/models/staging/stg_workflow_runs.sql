-- One row per workflow run requested before the cut-off. `duration_seconds` runs from the
-- first start to the end, waits for an approval included.
select
    id as workflow_run_id,
    workflow,
    trigger ->> 'source' as trigger_source,
    parent_id as parent_run_id,
    batch_id,
    status,
    coalesce(outcome, status) as outcome,
    portal_id,
    object_type,
    object_id,
    cast(correlation_id as varchar) as correlation_id,
    envelope_ids,
    len(envelope_ids) as envelope_count,
    policy_version,
    {{ utc('requested_at') }} as requested_at,
    {{ utc('started_at') }} as started_at,
    {{ utc('finished_at') }} as finished_at,
    {{ seconds_between('started_at', 'finished_at') }} as duration_seconds
from {{ source('orchestrator', 'workflow_runs') }}
where requested_at < {{ as_of() }}
