{# Range check: every non-null value of the column lies within [min_value, max_value], bounds
   inclusive; leave a bound out (none) for an open end. Nulls pass (pair with not_null where a
   value is required). The failing rows are returned. Used for counts (>= 0), shares and rates
   (fractions 0..1), durations and percentiles (>= 0). #}
{% test between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }} as out_of_range_value
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}
