{#- Website URL / domain / email -> bare host: no scheme, user info, www., path, query, port; lowercase.
    NULL unless it looks like a host name (labels of letters/digits/hyphens with at least one dot).
    The host is the first group of `domain_host_regex` (regexp_extract). That extraction (a regex with a capture
    group: RE2 cannot answer it with its DFA alone) was the costliest expression of stg_segment__product_events (its
    account domain, on every event), and nearly every value has one of two shapes: a bare host ('acme.io') or 'https://www.' and a host.
    For those, `domain_host_of_common_shape` names the same host by one full match (no capture) and prefix tests;
    every other value still goes through the regex. -#}
{% macro domain_host_regex() -%}
    '^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/?#]*@)?(?:www[0-9]*\.)?([^/?#:\s]+)'
{%- endmacro %}

{#- The host domain_host_regex's group takes from x (lowercased, trimmed) when x is an optional 'https://' or
    'http://', an optional 'www.' and then a rest of [a-z0-9.-] alone, not empty and not starting with 'www': that
    rest. x then has no '@' (no user info), a ':' only in that scheme (which the scheme group takes whole), a 'www'
    only as that one 'www.' (the www group takes it, and nothing else can), and the rest holds no '/', '?', '#', ':'
    or whitespace, so the host group runs to the end. The shape is one full match (RE2 answers it with its DFA, no
    capture), the rest is x without the prefix the shape allows; NULL for any other value. -#}
{% macro domain_host_of_common_shape(x) -%}
    {%- set not_www = "(?:[a-z0-9.\-]{1,2}|(?:[a-vx-z0-9.\-]|w[a-vx-z0-9.\-]|ww[a-vx-z0-9.\-])[a-z0-9.\-]*)" -%}
    case when {{ regex_full_match(x, "'(?:https?://)?(?:www\.)?" ~ not_www ~ "'") }}
         then case when starts_with({{ x }}, 'https://www.') then substr({{ x }}, 13)
                   when starts_with({{ x }}, 'http://www.') then substr({{ x }}, 12)
                   when starts_with({{ x }}, 'https://') then substr({{ x }}, 9)
                   when starts_with({{ x }}, 'http://') then substr({{ x }}, 8)
                   when starts_with({{ x }}, 'www.') then substr({{ x }}, 5)
                   else {{ x }} end
    end
{%- endmacro %}

{% macro normalize_domain(expr) -%}
    {#- trim, not trimmed: x is repeated in the expression below, and trimmed's copies of it would make the SQL (and
        DuckDB's planning of it) several times larger. -#}
    {%- set x = "lower(trim(" ~ expr ~ "))" -%}
    {%- set host -%}
        rtrim(coalesce({{ domain_host_of_common_shape(x) }}, {{ regex_extract(x, domain_host_regex(), 1) }}), '.')
    {%- endset -%}
    case when {{ regex_full_match(host, "'([a-z0-9]([a-z0-9\-]*[a-z0-9])?\.)+[a-z0-9\-]{2,}'") }}
         then {{ host }} end
{%- endmacro %}
