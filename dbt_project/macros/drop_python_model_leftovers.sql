{% macro drop_python_model_leftovers() %}
  {#- dbt-duckdb builds an incremental Python model's new rows into `main.<model>__dbt_tmp<timestamp>`: a real table
      (the Python model's frame is registered and copied, not created as a temporary table), which its
      materialization takes for a temporary one and so never drops. Seven such models left seven tables an hour
      (~55,000 rows at 1M contacts), for ever. Dropped once every node has run (on-run-end), along with any left by
      an earlier run that failed. -#}
  {%- if execute -%}
    {%- set leftovers = run_query(
        "select table_name from duckdb_tables() where database_name = current_database() "
        ~ "and schema_name = 'main' and not temporary "
        ~ "and regexp_matches(table_name, '__dbt_tmp[0-9]*$')"
    ) -%}
    {%- for name in leftovers.columns[0].values() -%}
      {%- do run_query('drop table if exists main."' ~ name ~ '"') -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
