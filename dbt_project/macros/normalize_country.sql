{#- Country text -> ISO-3166 alpha-2 via seeds country_codes (alpha2, alpha3, name) and country_aliases.
    Matching key: accents stripped, lowercase, dots/apostrophes removed, other punctuation -> space.
    Unknown -> NULL. -#}
{% macro country_key(expr) -%}
    nullif(trim({{ regex_replace_all(regex_replace_all("strip_accents(lower(trim(" ~ expr ~ ")))", "'[.''’]'", "''"),
                 "'[^a-z0-9]+'", "' '") }}), '')
{%- endmacro %}

{% macro normalize_country(expr) -%}
    (
        select min(k.alpha2)
        from (
            select lower(alpha2) as country_key, alpha2 from {{ ref('country_codes') }}
            union all
            select lower(alpha3), alpha2 from {{ ref('country_codes') }}
            union all
            select {{ country_key('name') }}, alpha2 from {{ ref('country_codes') }}
            union all
            select {{ country_key('alias') }}, alpha2 from {{ ref('country_aliases') }}
        ) as k
        where k.country_key = {{ country_key(expr) }}
    )
{%- endmacro %}
