-- Per day × workflow: how many runs, how they ended, the success and failure rates (over the
-- runs that finished) and the duration of the finished runs.
select
    run_date,
    workflow,
    count(*) as runs,
    count(*) filter (where status = 'succeeded') as succeeded,
    count(*) filter (where status = 'failed') as failed,
    count(*) filter (where status = 'awaiting_approval') as awaiting_approval,
    count(*) filter (where status in ('requested', 'running')) as in_progress,
    count(*) filter (where status = 'succeeded')
        / nullif(count(*) filter (where is_finished), 0) as success_rate,
    count(*) filter (where status = 'failed')
        / nullif(count(*) filter (where is_finished), 0) as failure_rate,
    quantile_cont(duration_seconds, 0.5) filter (where is_finished) as p50_duration_seconds,
    quantile_cont(duration_seconds, 0.95) filter (where is_finished) as p95_duration_seconds
from {{ ref('fct_workflow_runs') }}
group by run_date, workflow
