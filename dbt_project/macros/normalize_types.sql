{#- Scalar casts from raw text. Every function returns NULL for blank/unparseable input. -#}

{% macro to_boolean(expr) -%}
    case
        when lower(trim({{ expr }})) in ('true', 't', 'yes', 'y', '1', 'on') then true
        when lower(trim({{ expr }})) in ('false', 'f', 'no', 'n', '0', 'off') then false
    end
{%- endmacro %}

{#- Whole numbers: thousands separators/spaces dropped, decimals rounded ("1,200" -> 1200). -#}
{% macro to_integer(expr) -%}
    cast(round(try_cast(nullif({{ regex_replace_all("trim(" ~ expr ~ ")", "'[,\s_]'", "''") }}, '') as double)) as bigint)
{%- endmacro %}

{#- Record IDs (already validated as whole numbers by ingestion). -#}
{% macro to_id(expr) -%}
    try_cast(nullif({{ trim_text(expr) }}, '') as bigint)
{%- endmacro %}

{#- Money / decimals: currency symbols, spaces and thousands separators dropped ("$12,000.50"). -#}
{% macro to_amount(expr, precision=18, scale=2) -%}
    try_cast(nullif({{ regex_replace_all("trim(" ~ expr ~ ")", "'[^0-9.\-]'", "''") }}, '') as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}

{% macro to_double(expr) -%}
    try_cast(nullif({{ trim_text(expr) }}, '') as double)
{%- endmacro %}

{#- ';'-separated ID list -> list of BIGINT (never NULL: empty list when nothing). -#}
{% macro to_id_list(expr, sep=';') -%}
    list_filter(
        list_transform(string_split(coalesce({{ expr }}, ''), '{{ sep }}'), lambda v: try_cast(nullif(trim(v), '') as bigint)),
        lambda v: v is not null)
{%- endmacro %}

{#- ';'-separated text list -> list of trimmed non-empty VARCHAR (optionally lowercased). -#}
{% macro to_string_list(expr, sep=';', lowercase=false) -%}
    list_filter(
        list_transform(string_split(coalesce({{ expr }}, ''), '{{ sep }}'),
            lambda v: nullif({% if lowercase %}lower(trim(v)){% else %}trim(v){% endif %}, '')),
        lambda v: v is not null)
{%- endmacro %}
