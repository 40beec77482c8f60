-- Event → run latency per UTC day of receipt × workflow: p50 and p95 seconds from receipt to
-- the run's start and to its end (a run parked at an approval ends after the decision).
select
    received_date,
    workflow,
    count(*) as events,
    count(started_at) as started,
    count(finished_at) as finished,
    quantile_cont(seconds_to_start, 0.5) as p50_seconds_to_start,
    quantile_cont(seconds_to_start, 0.95) as p95_seconds_to_start,
    quantile_cont(seconds_to_finish, 0.5) as p50_seconds_to_finish,
    quantile_cont(seconds_to_finish, 0.95) as p95_seconds_to_finish
from {{ ref('fct_event_runs') }}
group by received_date, workflow
