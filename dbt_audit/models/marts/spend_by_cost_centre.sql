-- Committed procurement spend per cost centre × fiscal year against the policy's annual
-- budget. Commitments in another currency than the budget's are counted apart (the policy
-- holds no exchange rates). Cost centres with no commitment show for the cut-off's year.
with commitments as (
    select cost_centre, fiscal_year, currency, count(*) as commitments, sum(amount) as amount
    from {{ ref('stg_budget_commitments') }}
    group by all
),
centre_years as (
    select distinct cost_centre, fiscal_year from commitments
    union
    select cost_centre, year({{ as_of_utc() }}) as fiscal_year from {{ ref('stg_cost_centres') }}
),
totals as (
    select
        centre_years.cost_centre,
        centre_years.fiscal_year,
        coalesce(sum(commitments.commitments) filter (
            where commitments.currency = centres.currency), 0) as commitments,
        coalesce(sum(commitments.amount) filter (
            where commitments.currency = centres.currency), 0) as committed_amount,
        coalesce(sum(commitments.commitments) filter (
            where commitments.currency is distinct from centres.currency), 0)
            as commitments_other_currency
    from centre_years
    left join {{ ref('stg_cost_centres') }} as centres using (cost_centre)
    left join commitments
        on commitments.cost_centre = centre_years.cost_centre
        and commitments.fiscal_year = centre_years.fiscal_year
    group by centre_years.cost_centre, centre_years.fiscal_year
)
select
    totals.cost_centre,
    totals.fiscal_year,
    centres.cost_centre_name,
    centres.cost_centre is not null as in_policy,
    centres.currency as budget_currency,
    centres.annual_budget,
    totals.commitments,
    cast(totals.committed_amount as decimal(18, 2)) as committed_amount,
    totals.commitments_other_currency,
    centres.annual_budget - totals.committed_amount as remaining_budget,
    totals.committed_amount / nullif(centres.annual_budget, 0) as share_committed
from totals
left join {{ ref('stg_cost_centres') }} as centres using (cost_centre)
