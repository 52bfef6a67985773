{#- Website URL / domain / email -> bare host: no scheme, user info, www., path, query, port; lowercase.
    NULL unless it looks like a host name (labels of letters/digits/hyphens with at least one dot).
    The host is the first group of `domain_host_regex` (regexp_extract). That extraction (a regex with a capture
    group: RE2 cannot answer it with its DFA alone) was the costliest expression of stg_segment__product_events at 1M
    contacts, and nearly every value has one of two shapes: a bare host ('acme.io') or 'https://www.' and a host.
    For those, `domain_host_of_common_shape` names the same host by prefix tests and one character-class check;
    every other value still goes through the regex. -#}
{% macro domain_host_regex() -%}
    '^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/?#]*@)?(?:www[0-9]*\.)?([^/?#:\s]+)'
{%- endmacro %}

{#- The text after an optional 'https://' or 'http://' and then an optional 'www.' (x: lowercased, trimmed).
    When it is not empty, holds only [a-z0-9.-] and does not start with 'www', it is exactly what
    domain_host_regex's group takes from x: x then has no '@' (no user info), a ':' only in that scheme (which the
    scheme group takes whole), a 'www' only as that one 'www.' (the www group takes it, and nothing else), and the
    rest holds no '/', '?', '#', ':' or whitespace, so the host group runs to the end. NULL for any other value. -#}
{% macro domain_host_of_common_shape(x) -%}
    {%- set after_scheme -%}
        case when starts_with({{ x }}, 'https://') then substr({{ x }}, 9)
             when starts_with({{ x }}, 'http://') then substr({{ x }}, 8) else {{ x }} end
    {%- endset -%}
    {%- set rest -%}
        case when starts_with({{ after_scheme }}, 'www.') then substr({{ after_scheme }}, 5) else {{ after_scheme }} end
    {%- endset -%}
    case when {{ regex_full_match(rest, "'[a-z0-9.\-]+'") }} and not starts_with({{ rest }}, 'www') then {{ rest }} end
{%- endmacro %}

{% macro normalize_domain(expr) -%}
    {%- set x = "lower(" ~ trimmed(expr) ~ ")" -%}
    {%- set host -%}
        rtrim(coalesce({{ domain_host_of_common_shape(x) }}, {{ regex_extract(x, domain_host_regex(), 1) }}), '.')
    {%- endset -%}
    case when {{ regex_full_match(host, "'([a-z0-9]([a-z0-9\-]*[a-z0-9])?\.)+[a-z0-9\-]{2,}'") }}
         then {{ host }} end
{%- endmacro %}
