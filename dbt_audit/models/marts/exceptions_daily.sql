-- Exceptions opened and resolved per day × kind × severity, with the hours to resolve those
-- resolved that day.
with opened as (
    select opened_date as day, kind, severity, count(*) as opened
    from {{ ref('fct_exceptions') }}
    group by all
),
resolved as (
    select
        resolved_date as day,
        kind,
        severity,
        count(*) as resolved,
        avg(hours_to_resolve) as avg_hours_to_resolve,
        quantile_cont(hours_to_resolve, 0.5) as p50_hours_to_resolve
    from {{ ref('fct_exceptions') }}
    where resolved_date is not null
    group by all
)
select
    day,
    kind,
    severity,
    coalesce(opened.opened, 0) as opened,
    coalesce(resolved.resolved, 0) as resolved,
    resolved.avg_hours_to_resolve,
    resolved.p50_hours_to_resolve
from opened
full outer join resolved using (day, kind, severity)
