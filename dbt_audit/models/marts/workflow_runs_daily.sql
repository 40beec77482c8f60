-- Workflow runs per day × workflow × status × outcome, with the duration of the finished ones.
select
    run_date,
    workflow,
    status,
    outcome,
    count(*) as runs,
    count(*) filter (where is_finished) as finished_runs,
    avg(duration_seconds) filter (where is_finished) as avg_duration_seconds,
    quantile_cont(duration_seconds, 0.5) filter (where is_finished) as p50_duration_seconds,
    quantile_cont(duration_seconds, 0.95) filter (where is_finished) as p95_duration_seconds,
    avg(working_seconds) as avg_working_seconds
from {{ ref('fct_workflow_runs') }}
group by run_date, workflow, status, outcome
