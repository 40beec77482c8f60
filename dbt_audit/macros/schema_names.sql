{# Models go to the schema they name (`staging`, `marts`), not `<target>_<name>`. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
