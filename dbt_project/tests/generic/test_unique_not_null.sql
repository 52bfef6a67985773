{#- A key column: dbt's `not_null` and `unique` in one test and one scan of the table (one group-by), for a column
    that had both. Fails for the NULL key (one row: how many rows have none) and for every non-NULL value on more
    than one row (one row each: how many), `failure` saying which of the two. A table fails it exactly when it
    fails `not_null` or `unique`. Each dbt test is a node of every build, with its own compiling, connection, query,
    results and Dagster check events (~0.1 s of CPU a node at 10k contacts, docs/scaling.md): a test instead of two
    on ~50 key columns. -#}
{% test unique_not_null(model, column_name) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records,
    case when {{ column_name }} is null then 'null' else 'duplicate' end as failure
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}
