{#- trim(expr) (DuckDB's: the Unicode space separators, category Zs, removed from both ends), without its cost where
    it cannot change the value. DuckDB's trim decodes every character of the value and looks up its Unicode category
    (to find the last one that is not a space) and copies the value: ~0.2 s of CPU per million 13-36 character ids
    at 1M contacts, on every id, code, timestamp and name of the staging models. A value all of whose bytes are
    ASCII (DuckDB's length(), which counts bytes for an ASCII value and grapheme clusters, always fewer, otherwise,
    equals strlen()) and that neither starts nor ends with a space is returned as it is: the only ASCII character in
    Zs is the space (tab, line feed and the other ASCII controls are kept by trim), so trim would return it
    unchanged. Any other value, and NULL, goes to trim. Only for a plain column name (the value is read four times:
    an expression would be evaluated again for each); anything else is trim(expr) as before. -#}
{% macro trim_text(expr) -%}
    {%- if modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', expr | string) -%}
        case when strlen({{ expr }}) = length({{ expr }}) and not ({{ expr }} like ' %' or {{ expr }} like '% ')
            then {{ expr }} else trim({{ expr }}) end
    {%- else -%}
        trim({{ expr }})
    {%- endif -%}
{%- endmacro %}

{#- Text cleaning: trim, collapse internal whitespace, empty -> NULL. Case is kept as given.
    The regex replace runs only on values it would change: a run of whitespace (RE2's \s: space, tab, line feed,
    form feed, carriage return) is changed only when it is two characters or more or not a space, and most values
    have single spaces alone. Plain substring checks find those; the replace itself was the costliest expression of
    the Segment staging models (~5.5 s of the event names of 6.6M web events at 1M contacts). -#}
{% macro normalize_text(expr) -%}
    nullif(case
        when contains({{ expr }}, '  ') or contains({{ expr }}, chr(9)) or contains({{ expr }}, chr(10))
            or contains({{ expr }}, chr(12)) or contains({{ expr }}, chr(13))
        then trim(regexp_replace({{ expr }}, '\s+', ' ', 'g'))
        else {{ trim_text(expr) }}
    end, '')
{%- endmacro %}

{#- Person/company names: same as normalize_text (nothing fancy on purpose). -#}
{% macro normalize_name(expr) -%}
    {{ normalize_text(expr) }}
{%- endmacro %}

{#- Enumerations coming from exports: trimmed, lowercased, empty -> NULL. -#}
{% macro normalize_code(expr) -%}
    nullif(lower({{ trim_text(expr) }}), '')
{%- endmacro %}

{#- Raw value kept for lineage: empty/blank -> NULL, otherwise untouched. -#}
{% macro nullif_blank(expr) -%}
    case when {{ trim_text(expr) }} = '' then null else {{ expr }} end
{%- endmacro %}
