{#- Emails: lowercased + trimmed; must match a conservative ASCII address regex (apostrophes allowed in the
    local part, no internationalized addresses), else NULL. -#}
{% macro email_regex() -%}
    '^[a-z0-9_%+''\-]+(\.[a-z0-9_%+''\-]+)*@([a-z0-9]([a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}$'
{%- endmacro %}

{% macro email_candidate(expr) -%}
    nullif(lower(trim(regexp_replace({{ expr }}, '^\s*mailto:', '', 'i'))), '')
{%- endmacro %}

{% macro email_is_valid(expr) -%}
    coalesce({{ regex_full_match(email_candidate(expr), email_regex()) }}, false)
{%- endmacro %}

{% macro normalize_email(expr) -%}
    case when {{ email_is_valid(expr) }} then {{ email_candidate(expr) }} end
{%- endmacro %}

{#- Domain of an (already normalized) email. -#}
{% macro email_domain(email_expr) -%}
    nullif(split_part({{ email_expr }}, '@', 2), '')
{%- endmacro %}
