{#- dbt-duckdb's `create table ... as` with a column's compression chosen by the model (config
    `column_compression`: {column: method}, e.g. {'context': 'zstd'}). DuckDB has no `alter column ... set
    compression` and `create table as` takes no column list, so such a table is created from the select's own column
    names and types (DuckDB's `describe` of it, a bind, no rows read) with `using compression` on the named columns,
    then filled by `insert ... select`: the same columns, types, order and rows. Rows inserted later (an incremental
    model's hourly delete+insert) are stored with the column's compression too. Temporary tables (an incremental
    run's new rows), Python models and models without the config are created by the adapter's macro unchanged.
    Why: DuckDB's default for text (a dictionary with FSST) spends the most CPU on long values that are all distinct;
    the Segment web events' `context` (~240 bytes a row, read by no model downstream) is written in about a third
    of the CPU and a quarter of the room with zstd, and the event models' ids (all distinct) in about half the CPU. -#}
{% macro duckdb__create_table_as(temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none) -%}
  {%- set column_compression = config.get('column_compression') or {} -%}
  {%- if temporary or language != 'sql' or not column_compression
        or partitioned_by or sorted_by or config.get('contract').enforced -%}
    {{ return(dbt.duckdb__create_table_as(temporary, relation, compiled_code, language, partitioned_by=partitioned_by, sorted_by=sorted_by)) }}
  {%- endif -%}
  {%- set described = run_query('describe select * from (' ~ compiled_code ~ '\n) as _described') -%}
  {%- set names = described.columns[0].values() -%}
  {%- set types = described.columns[1].values() -%}
  {%- for name in column_compression -%}
    {%- if name not in names -%}
      {%- do exceptions.raise_compiler_error("column_compression names '" ~ name ~ "', not a column of " ~ relation) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set sql_header = config.get('sql_header', none) -%}
  {{ sql_header if sql_header is not none }}
  create table {{ relation }} (
    {%- for name in names %}
    {{ adapter.quote(name) }} {{ types[loop.index0] }}
      {%- if name in column_compression %} using compression {{ column_compression[name] }}{% endif %}
      {{- ',' if not loop.last }}
    {%- endfor %}
  );
  insert into {{ relation }}
    select * from (
      {{ compiled_code }}
    ) as model_subq;
{%- endmacro %}
