{#- dbt's `not_null` on each of `columns`, as one test and one scan of the table: fails with a row per column that
    holds a NULL (`column_name`, and `null_rows`: how many rows have none there), so a failure says which column.
    A table fails it exactly when it fails `not_null` on one of the columns. Each dbt test is a node of every
    build, with its own compiling, connection, query, results and Dagster check events (~0.1 s of CPU a node at
    10k contacts, docs/scaling.md): one test instead of one per column. -#}
{% test not_null_columns(model, columns) %}
with null_counts as (
    select
    {%- for column in columns %}
        count(*) filter (where {{ column }} is null) as null_rows_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)

select column_name, null_rows
from (
    {%- for column in columns %}
    select '{{ column }}' as column_name, null_rows_{{ loop.index }} as null_rows from null_counts
    {{- " union all" if not loop.last }}
    {%- endfor %}
)
where null_rows > 0
{% endtest %}
