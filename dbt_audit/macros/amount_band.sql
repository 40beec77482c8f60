{# The approval amount band of `amount` by the `amount_band_edges` variable: lower edges,
   inclusive ("at or above", as the policy's threshold), labels like "50000-99999.99".
   No amount (kickoff approvals): "no amount". #}
{% macro amount_band(amount) -%}
    {%- set edges = var('amount_band_edges') | sort -%}
    case
        when {{ amount }} is null then 'no amount'
        {%- for edge in edges %}
        when {{ amount }} < {{ edge }} then
            {%- if loop.first %} '< {{ edge }}'
            {%- else %} '{{ edges[loop.index0 - 1] }} to < {{ edge }}'
            {%- endif %}
        {%- endfor %}
        else '>= {{ edges | last }}'
    end
{%- endmacro %}

{# The bands in order, for accepted_values tests and for sorting. #}
{% macro amount_band_labels() -%}
    {%- set edges = var('amount_band_edges') | sort -%}
    {%- set labels = ['no amount', '< ' ~ edges[0]] -%}
    {%- for edge in edges[1:] -%}
        {%- do labels.append(edges[loop.index0] ~ ' to < ' ~ edge) -%}
    {%- endfor -%}
    {%- do labels.append('>= ' ~ (edges | last)) -%}
    {{ return(labels) }}
{%- endmacro %}
