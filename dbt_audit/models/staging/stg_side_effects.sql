-- One row per ledger entry (an external write) created before the cut-off. Targets read
-- `<vendor>:<resource>:<id...>` (airtable:Accounts:9001, google:drive:<file>); the thread id
-- starts with the workflow.
select
    id as side_effect_id,
    split_part(thread_id, '/', 1) as workflow,
    thread_id,
    step,
    target,
    split_part(target, ':', 1) as vendor,
    split_part(target, ':', 2) as resource,
    status,
    attempts,
    external_id,
    {{ utc('created_at') }} as created_at,
    {{ utc('updated_at') }} as updated_at
from {{ source('orchestrator', 'side_effects') }}
where created_at < {{ as_of() }}
