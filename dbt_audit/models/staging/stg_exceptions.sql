-- One row per exception opened before the cut-off; one resolved after it counts as open, so
-- the backlog is the backlog at the cut-off.
with resolved as (
    select
        *,
        case when resolved_at < {{ as_of() }} then resolved_at end as resolved_by_cut_off
    from {{ source('orchestrator', 'exceptions') }}
    where opened_at < {{ as_of() }}
)
select
    id as exception_id,
    kind,
    severity,
    case when resolved_by_cut_off is null then 'open' else 'resolved' end as status,
    workflow,
    workflow_run_id,
    step,
    object_type,
    object_id,
    occurrences,
    {{ utc('opened_at') }} as opened_at,
    {{ utc('last_seen_at') }} as last_seen_at,
    {{ utc('resolved_by_cut_off') }} as resolved_at,
    case when resolved_by_cut_off is not null then resolved_by end as resolved_by,
    {{ seconds_between('opened_at', 'resolved_by_cut_off') }} / 3600.0 as hours_to_resolve
from resolved
