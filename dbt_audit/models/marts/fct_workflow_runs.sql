-- One row per workflow run with its day (the UTC day it was requested), its time from first
-- start to end and the time its Dagster runs actually worked on it.
with attempts as (
    select
        workflow_run_id,
        count(*) as attempts,
        sum(duration_seconds) as working_seconds
    from {{ ref('stg_run_attempts') }}
    group by workflow_run_id
)
select
    runs.workflow_run_id,
    runs.workflow,
    runs.trigger_source,
    runs.parent_run_id,
    runs.batch_id,
    runs.status,
    runs.outcome,
    cast(runs.requested_at as date) as run_date,
    runs.requested_at,
    runs.started_at,
    runs.finished_at,
    runs.duration_seconds,
    coalesce(attempts.attempts, 0) as attempts,
    attempts.working_seconds,
    runs.status in ('succeeded', 'failed') as is_finished
from {{ ref('stg_workflow_runs') }} as runs
left join attempts using (workflow_run_id)
