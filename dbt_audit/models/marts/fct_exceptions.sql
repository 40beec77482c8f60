-- One row per exception, with the UTC days it was opened and resolved.
select
    exception_id,
    kind,
    severity,
    status,
    workflow,
    workflow_run_id,
    cast(opened_at as date) as opened_date,
    cast(resolved_at as date) as resolved_date,
    opened_at,
    resolved_at,
    resolved_by,
    occurrences,
    hours_to_resolve
from {{ ref('stg_exceptions') }}
