{#- Text cleaning: trim, collapse internal whitespace, empty -> NULL. Case is kept as given. -#}
{% macro normalize_text(expr) -%}
    nullif(trim(regexp_replace({{ expr }}, '\s+', ' ', 'g')), '')
{%- endmacro %}

{#- Person/company names: same as normalize_text (nothing fancy on purpose). -#}
{% macro normalize_name(expr) -%}
    {{ normalize_text(expr) }}
{%- endmacro %}

{#- Enumerations coming from exports: trimmed, lowercased, empty -> NULL. -#}
{% macro normalize_code(expr) -%}
    nullif(lower(trim({{ expr }})), '')
{%- endmacro %}

{#- Raw value kept for lineage: empty/blank -> NULL, otherwise untouched. -#}
{% macro nullif_blank(expr) -%}
    case when trim({{ expr }}) = '' then null else {{ expr }} end
{%- endmacro %}
