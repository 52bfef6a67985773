{#- Phone text -> E.164 ('+', country code, national number), or NULL: the DuckDB function phone_e164, which
    landing/phones.py implements with the `phonenumbers` library (libphonenumber's metadata) and the dbt-duckdb
    plugin landing.dbt_plugin registers on dbt's connection (profiles.yml).
    region_expr: the row's ISO 3166 alpha-2 country (e.g. normalize_country's result) a national number is read
    in, or null (then only '+' / '00' international numbers are read). Extensions ('x123', 'ext. 12', '#12') and
    the '(0)' trunk hint are dropped; a number of a length its country never has, or no number, gives NULL. -#}
{% macro normalize_phone(phone_expr, region_expr) -%}
    phone_e164({{ phone_expr }}, {{ region_expr }})
{%- endmacro %}
