{#- Incremental strategy `replace_all`: the model returns its whole table every run (it only reads its own previous
    state, via `this`, to carry unchanged parts over), so the new rows replace all the old ones.

    Why not `table`: dbt's `--full-refresh` changes nothing for a table model, so a model that reads its previous
    state could never be rebuilt from scratch. As an incremental model, `is_incremental` is false on the first
    build and under `--full-refresh`, and the model starts over then. -#}
{% macro get_incremental_replace_all_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ target }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict["temp_relation"] }}
{% endmacro %}
