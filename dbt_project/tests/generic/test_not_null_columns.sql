{#- dbt's `not_null` on each of `columns`, as one test: fails with a row per column that holds a NULL (`column_name`,
    and `null_rows`: how many rows have none there), so a failure says which column. A table fails it exactly when
    it fails `not_null` on one of the columns. Each dbt test is a node of every build, with its own compiling,
    connection, query, results and Dagster check events (~0.1 s of CPU a node at 10k contacts, docs/scaling.md):
    one test instead of one per column. Each column is its own `where ... is null` count, not one scan counting
    every column: DuckDB skips the row groups whose statistics hold no NULL, so on a large table these counts read
    next to nothing, where a single pass with `count(*) filter (...)` reads every row (~0.2-0.3 s of CPU on the
    8.8M email events at 1M contacts). -#}
{% test not_null_columns(model, columns) %}
select column_name, null_rows
from (
    {%- for column in columns %}
    select '{{ column }}' as column_name, count(*) as null_rows from {{ model }} where {{ column }} is null
    {{- " union all" if not loop.last }}
    {%- endfor %}
)
where null_rows > 0
{% endtest %}
