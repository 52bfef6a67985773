{#- LinkedIn profile/company URLs -> 'linkedin.com/<kind>/<slug>' (lowercase, no scheme, www./country
    subdomain, query string or trailing slash). NULL when it is not a LinkedIn profile/company URL. -#}
{% macro normalize_linkedin_url(expr) -%}
    {%- set s = "lower(trim(" ~ expr ~ "))" -%}
    {%- set pat = "'linkedin\.com/(in|pub|company|school|showcase)/([^/?#\s]+)'" -%}
    case when {{ regex_matches(s, pat) }}
         then 'linkedin.com/' || {{ regex_extract(s, pat, 1) }} || '/' || {{ regex_extract(s, pat, 2) }}
    end
{%- endmacro %}
