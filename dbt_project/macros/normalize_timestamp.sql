{#- Contract timestamps -> timestamptz (an instant; compare/display in UTC).
    Accepted: 'YYYY-MM-DD HH:MM[:SS[.fff]]', ISO 8601 with 'T', with or without Z/+hh:mm offset, 'YYYY-MM-DD'.
    Values with an offset are exact; values without one are read in var('export_timezone'). -#}
{% macro export_timezone() -%}
    {{ return(var('export_timezone', 'UTC') or 'UTC') }}
{%- endmacro %}

{% macro to_utc_timestamp(expr, tz=none) -%}
    {%- set tz = tz or export_timezone() -%}
    {%- set s = "nullif(" ~ trim_text(expr) ~ ", '')" -%}
    case
        when {{ s }} is null then null
        when {{ regex_matches(s, "'\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+\-]\d{2}(:?\d{2})?)$'") }}
            then try_cast({{ s }} as timestamptz)
        else timezone('{{ tz | replace("'", "''") }}', try_cast({{ s }} as timestamp))
    end
{%- endmacro %}

{#- Calendar dates (usage days, as-of dates): first 10 characters 'YYYY-MM-DD'. -#}
{% macro to_date(expr) -%}
    try_cast(left(trim({{ expr }}), 10) as date)
{%- endmacro %}
