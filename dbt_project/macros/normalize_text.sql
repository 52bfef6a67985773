{#- Text cleaning: trim, collapse internal whitespace, empty -> NULL. Case is kept as given.
    The regex replace runs only on values it would change: a run of whitespace (RE2's \s: space, tab, line feed,
    form feed, carriage return) is changed only when it is two characters or more or not a space, and most values
    have single spaces alone. Plain substring checks find those; the replace itself was the costliest expression of
    the Segment staging models (~5.5 s of the event names of 6.6M web events at 1M contacts). -#}
{% macro normalize_text(expr) -%}
    case
        when contains({{ expr }}, '  ') or contains({{ expr }}, chr(9)) or contains({{ expr }}, chr(10))
            or contains({{ expr }}, chr(12)) or contains({{ expr }}, chr(13))
        then nullif(trim(regexp_replace({{ expr }}, '\s+', ' ', 'g')), '')
        else nullif({{ trimmed(expr) }}, '')
    end
{%- endmacro %}

{#- trim(expr), without running trim where it would return the text unchanged: text of ASCII characters alone
    (as many bytes as characters) that neither starts nor ends with a space. trim removes the Unicode space
    separators (the space, the no-break space, ...), all but the space outside ASCII, and reads the whole text to
    find them: in stg_email__events at 100k contacts its ids, codes, address and timestamp took ~0.3 of ~1.4 s of
    CPU. tests/test_staging_macros.py checks every ASCII character and the non-ASCII spaces at either end. -#}
{% macro trimmed(expr) -%}
    case when strlen({{ expr }}) = length({{ expr }}) and not starts_with({{ expr }}, ' ') and not ends_with({{ expr }}, ' ')
         then {{ expr }} else trim({{ expr }}) end
{%- endmacro %}

{#- Person/company names: same as normalize_text (nothing fancy on purpose). -#}
{% macro normalize_name(expr) -%}
    {{ normalize_text(expr) }}
{%- endmacro %}

{#- Enumerations coming from exports: trimmed, lowercased, empty -> NULL. -#}
{% macro normalize_code(expr) -%}
    nullif(lower({{ trimmed(expr) }}), '')
{%- endmacro %}

{#- Raw value kept for lineage: empty/blank -> NULL, otherwise untouched. -#}
{% macro nullif_blank(expr) -%}
    case when {{ trimmed(expr) }} = '' then null else {{ expr }} end
{%- endmacro %}
