-- Which events each workflow run was started from (a run groups correlated events); only
-- events inside the build.
with run_events as (
    select workflow_run_id, unnest(envelope_ids) as envelope_id
    from {{ ref('stg_workflow_runs') }}
)
select distinct run_events.workflow_run_id, run_events.envelope_id
from run_events
inner join {{ ref('stg_envelopes') }} as envelopes using (envelope_id)
