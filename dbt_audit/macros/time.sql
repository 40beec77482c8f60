{# The build's cut-off as a timestamptz: the `as_of` variable, or now when unset. #}
{% macro as_of() -%}
    {%- if var('as_of') -%} cast('{{ var("as_of") }}' as timestamptz)
    {%- else -%} current_timestamp {%- endif -%}
{%- endmacro %}

{# The cut-off as a UTC wall-clock timestamp, comparable with the staged columns. #}
{% macro as_of_utc() -%}
    ({{ as_of() }} at time zone 'UTC')
{%- endmacro %}

{# A Postgres timestamptz as a UTC wall-clock timestamp: every staged time is UTC, so a day
   is a UTC day whatever the reader's time zone. #}
{% macro utc(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{# Seconds from one timestamp to another (null when either is null). #}
{% macro seconds_between(start, finish) -%}
    (epoch({{ finish }}) - epoch({{ start }}))
{%- endmacro %}

{# A SQL string literal. #}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
