{#- Job title -> role_category / seniority through the ordered rules of seed job_title_rules
    (priority ascending, first matching regex wins; a rule sets role_category, seniority or both).
    The title is matched as a key: accents stripped, lowercase, punctuation -> single spaces
    ("Sr. Software Engineer" -> 'sr software engineer'). No match -> 'other' / 'unknown'. -#}
{% macro job_title_key(expr) -%}
    nullif(trim({{ regex_replace_all("strip_accents(lower(" ~ expr ~ "))", "'[^a-z0-9&]+'", "' '") }}), '')
{%- endmacro %}

{% macro _job_title_rule(expr, attribute) -%}
    (
        select arg_min(r.{{ attribute }}, r.priority)
        from {{ ref('job_title_rules') }} as r
        where nullif(trim(r.{{ attribute }}), '') is not null
          and {{ regex_matches(job_title_key(expr), 'r.pattern') }}
    )
{%- endmacro %}

{% macro job_title_role_category(expr) -%}
    coalesce({{ _job_title_rule(expr, 'role_category') }}, 'other')
{%- endmacro %}

{% macro job_title_seniority(expr) -%}
    coalesce({{ _job_title_rule(expr, 'seniority') }}, 'unknown')
{%- endmacro %}
