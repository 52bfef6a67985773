{#- Website URL / domain / email -> bare host: no scheme, user info, www., path, query, port; lowercase.
    NULL unless it looks like a host name (labels of letters/digits/hyphens with at least one dot). -#}
{% macro normalize_domain(expr) -%}
    {%- set host -%}
        rtrim({{ regex_extract("lower(trim(" ~ expr ~ "))",
            "'^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/?#]*@)?(?:www[0-9]*\.)?([^/?#:\s]+)'", 1) }}, '.')
    {%- endset -%}
    case when {{ regex_full_match(host, "'([a-z0-9]([a-z0-9\-]*[a-z0-9])?\.)+[a-z0-9\-]{2,}'") }}
         then {{ host }} end
{%- endmacro %}
