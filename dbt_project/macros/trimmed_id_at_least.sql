{#- A condition true for every value of `column` whose trim() sorts at or above `smallest` (a string; None: false), and
    one DuckDB checks against each row group's min and max of the column (constant comparisons only), so a query that
    looks for the raw versions of a few known trimmed ids skips the row groups holding none.
    Why it keeps every such value: DuckDB's trim removes ' ' and Unicode's other space separators (U+00A0, U+2000-U+200A,
    U+3000, ...), all outside ASCII. A value without one at its start begins with its trimmed form, so it sorts at or
    above that form and so above `smallest`; one starting with ' ' (or any ASCII control character) sorts below '!';
    one starting with a character outside ASCII sorts at or above U+0080 (UTF-8 keeps code point order byte by byte).
    It narrows the rows only where `smallest` is high among the stored values (ids that grow with the load). -#}
{% macro trimmed_id_at_least(column, smallest) -%}
    {%- if smallest is none -%}
        false
    {%- else -%}
        ({{ column }} >= '{{ smallest | replace("'", "''") }}' or {{ column }} < '!' or {{ column }} >= chr(128))
    {%- endif -%}
{%- endmacro %}
