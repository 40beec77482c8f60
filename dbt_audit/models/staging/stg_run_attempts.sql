-- One row per Dagster run that worked on a workflow run, started before the cut-off.
select
    dagster_run_id || ':' || cast(workflow_run_id as varchar) as attempt_key,
    dagster_run_id,
    workflow_run_id,
    kind,
    job_name,
    status,
    len(steps) as steps_completed,
    {{ utc('started_at') }} as started_at,
    {{ utc('finished_at') }} as finished_at,
    {{ seconds_between('started_at', 'finished_at') }} as duration_seconds
from {{ source('orchestrator', 'workflow_run_attempts') }}
where started_at < {{ as_of() }}
