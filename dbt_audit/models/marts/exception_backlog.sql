-- Exceptions open at the build's cut-off by kind × severity × age.
with open_exceptions as (
    select
        *,
        {{ seconds_between('opened_at', as_of_utc()) }} / 3600.0 as age_hours
    from {{ ref('fct_exceptions') }}
    where status = 'open'
)
select
    kind,
    severity,
    case
        when age_hours < 1 then '< 1 hour'
        when age_hours < 24 then '1 to < 24 hours'
        when age_hours < 24 * 7 then '1 to < 7 days'
        when age_hours < 24 * 30 then '7 to < 30 days'
        else '>= 30 days'
    end as age_band,
    count(*) as open_exceptions,
    sum(occurrences) as occurrences,
    min(opened_at) as oldest_opened_at
from open_exceptions
group by all
