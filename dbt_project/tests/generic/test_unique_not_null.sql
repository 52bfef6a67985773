{#- A key column: dbt's `not_null` and `unique` in one test and one scan of the table (one group-by), for a column
    that had both. Fails for the NULL key (one row: how many rows have none) and for every non-NULL value on more
    than one row (one row each: how many), `failure` saying which of the two. A table fails it exactly when it
    fails `not_null` or `unique`. Each dbt test is a node of every build, with its own compiling, connection, query,
    results and Dagster check events (~0.1 s of CPU a node at 10k contacts, docs/scaling.md): a test instead of two
    on ~50 key columns.

    `written_at` (as `unique_combination`'s): a column stamping each row with the run that wrote it, the latest run
    the largest stamp (an incremental model writing only some rows each run). When the table holds more than one
    stamp, only the values of the rows with the largest stamp are looked for on more than one row, in the whole
    table: a duplicate the latest run brought always has a row of that run, and rows of earlier runs were checked
    by the runs that wrote them. The NULL keys are still counted over the whole table (a `where <column> is null`
    count: DuckDB skips the row groups whose statistics hold no NULL). One stamp (a first build, a full refresh,
    rows written before the column existed) checks the whole table as without it. -#}
{% test unique_not_null(model, column_name, written_at=none) %}
{%- set latest_write_only = false -%}
{%- if written_at is not none and execute -%}
    {%- set stamps = run_query('select min(' ~ written_at ~ ') < max(' ~ written_at ~ ') from ' ~ model) -%}
    {%- set latest_write_only = stamps.columns[0].values()[0] -%}
{%- endif %}
{%- if latest_write_only %}
select {{ column_name }} as unique_field, count(*) as n_records, 'duplicate' as failure
from {{ model }}
where {{ column_name }} in (
    select {{ column_name }} from {{ model }}
    where {{ written_at }} = (select max({{ written_at }}) from {{ model }})
)
group by {{ column_name }}
having count(*) > 1

union all

select null as unique_field, count(*) as n_records, 'null' as failure
from {{ model }}
where {{ column_name }} is null
having count(*) > 0
{%- else %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records,
    case when {{ column_name }} is null then 'null' else 'duplicate' end as failure
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{%- endif %}
{% endtest %}
