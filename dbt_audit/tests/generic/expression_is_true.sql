{# Row-level invariant: the SQL boolean `expression`, evaluated on every row of the model, is
   true. A row where it is false or null fails (write `x is null or ...` where null is
   allowed). The failing rows are returned. Used for cross-column consistency, e.g. a count of
   a subset never above the count of the whole. #}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
