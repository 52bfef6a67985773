{#- JSON access (DuckDB json extension). Keys are quoted so any key name works. -#}
{% macro json_text(json_expr, path) -%}
    {#- path: dot-separated keys, e.g. 'page.path' -#}
    {%- set quoted = [] -%}
    {%- for k in path.split('.') -%}{%- do quoted.append('"' ~ k ~ '"') -%}{%- endfor -%}
    json_extract_string({{ json_expr }}, '$.{{ quoted | join(".") }}')
{%- endmacro %}

{% macro json_value(json_expr, path) -%}
    {%- set quoted = [] -%}
    {%- for k in path.split('.') -%}{%- do quoted.append('"' ~ k ~ '"') -%}{%- endfor -%}
    json_extract({{ json_expr }}, '$.{{ quoted | join(".") }}')
{%- endmacro %}

{#- One row per key of a JSON object (use in a select list; emits the key). -#}
{% macro json_object_keys_unnest(json_expr) -%}
    unnest(json_keys({{ json_expr }}))
{%- endmacro %}

{#- Member of a JSON object by a key held in a column. -#}
{% macro json_member(json_expr, key_expr) -%}
    json_extract({{ json_expr }}, '$."' || replace({{ key_expr }}, '"', '\"') || '"')
{%- endmacro %}

{% macro json_type_of(json_expr) -%}
    json_type({{ json_expr }})
{%- endmacro %}

{#- A JSON scalar as text (strings unquoted); arrays/objects as their JSON text. -#}
{% macro json_as_text(json_expr) -%}
    case when json_type({{ json_expr }}) in ('ARRAY', 'OBJECT') then cast({{ json_expr }} as varchar)
         else json_extract_string({{ json_expr }}, '$') end
{%- endmacro %}

{#- Several members of one JSON document as a list of text, in the order of `paths` (each as json_text takes it):
    the document is parsed once for all of them, where one json_text per key parses it again for each key. Element i
    is exactly json_text(json_expr, paths[i]); a NULL document gives a NULL list (and so NULL elements). -#}
{% macro json_texts(json_expr, paths) -%}
    json_extract_string({{ json_expr }}, [
        {%- for path in paths -%}
            {%- set quoted = [] -%}
            {%- for k in path.split('.') -%}{%- do quoted.append('"' ~ k ~ '"') -%}{%- endfor -%}
            '$.{{ quoted | join(".") }}'{{ ', ' if not loop.last }}
        {%- endfor -%}
    ])
{%- endmacro %}
