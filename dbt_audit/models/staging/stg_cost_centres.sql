-- The policy's cost centres and annual budgets (the `cost_centres` variable of the build).
{% set centres = var('cost_centres') %}
{% if centres | length > 0 %}
select
    cost_centre,
    cost_centre_name,
    cast(annual_budget as decimal(18, 2)) as annual_budget,
    currency
from (values
    {%- for centre in centres %}
    ({{ sql_string(centre.code) }}, {{ sql_string(centre.name) }},
     {{ sql_string(centre.annual_budget) }}, {{ sql_string(centre.currency) }})
    {{- "," if not loop.last }}
    {%- endfor %}
) as centres (cost_centre, cost_centre_name, annual_budget, currency)
{% else %}
select
    cast(null as varchar) as cost_centre,
    cast(null as varchar) as cost_centre_name,
    cast(null as decimal(18, 2)) as annual_budget,
    cast(null as varchar) as currency
where false
{% endif %}
