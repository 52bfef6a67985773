{#- Keep one row per key: the first by order_by (e.g. latest version of a record).
    relation: a CTE or relation name; partition_by / order_by: SQL fragments. -#}
{% macro dedupe_latest(relation, partition_by, order_by) -%}
    select * exclude (_dedupe_row_number)
    from (
        select *, row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _dedupe_row_number
        from {{ relation }}
    ) as _ranked
    where _dedupe_row_number = 1
{%- endmacro %}

{#- In an incremental model: only the raw rows loaded after the newest row this model already holds
    (every run after the first; a full refresh reads everything again). Raw tables are append-only. -#}
{% macro loaded_since_last_run() -%}
{% if is_incremental() %}
    where _loaded_at > (select coalesce(max(_loaded_at), '1900-01-01'::timestamptz) from {{ this }})
{% endif %}
{%- endmacro %}

{#- In an incremental model keyed by record id whose latest version is chosen by the record's own modification
    time: every version of each record with a row loaded since the last run, so that the latest version is chosen
    among all of them (an older version exported again later never replaces a newer one). The whole source on the
    first run and on a full refresh. -#}
{% macro versions_of_records_loaded_since_last_run(source_relation, id_expr) -%}
    select * from {{ source_relation }}
{% if is_incremental() %}
    where {{ id_expr }} in (
        select {{ id_expr }} from {{ source_relation }}
        where _loaded_at > (select coalesce(max(_loaded_at), '1900-01-01'::timestamptz) from {{ this }})
    )
{% endif %}
{%- endmacro %}
