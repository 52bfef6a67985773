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
    where _loaded_at > {{ newest_loaded_at_staged() }}
{% endif %}
{%- endmacro %}

{#- The newest `_loaded_at` this incremental model holds, '1900-01-01' when it holds none, as a TIMESTAMP: the type
    of every `_loaded_at`, raw and staged. Compared with the raw `_loaded_at` as it is, DuckDB filters the raw table's
    scan by it (the row groups loaded before are skipped and the other columns read for the matching rows only).
    The default was a TIMESTAMPTZ, which made every raw `_loaded_at` a TIMESTAMPTZ before the comparison: DuckDB then
    read every column of every raw row and compared after (at 1M contacts ~1.4 s of CPU an hour for the Segment web
    events' ~6.6M rows with their JSON documents, to keep ~3,000). The same rows: the session's time zone is UTC
    (profiles.yml), where a naive time and its TIMESTAMPTZ are the same instant. -#}
{% macro newest_loaded_at_staged() -%}
    (select coalesce(max(_loaded_at), '1900-01-01'::timestamp) from {{ this }})
{%- endmacro %}

{#- When the dbt run writing a row started (UTC, a naive timestamp like `_loaded_at`): the `_staged_at` column of
    the incremental event staging models, whose generic tests given it as `written_at` check only the latest run's
    rows on an hourly run (tests/generic). Bookkeeping: a rebuild stamps every row alike. -#}
{% macro run_started_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
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
        where _loaded_at > {{ newest_loaded_at_staged() }}
    )
{% endif %}
{%- endmacro %}

{#- Same rows as dedupe_latest, for a relation whose keys are nearly all unique (event exports, where a key
    repeats only when a line is exported again): the rows of unique keys are kept as they are and only
    the rows of repeated keys are ranked. dedupe_latest's window sorts every row with all its columns (the costliest
    step of the event staging models at 1M contacts: ~35 of ~60 s for the web events); here the one wide pass is a
    hash join against the (usually empty) set of repeated keys. NULL keys are one group, as in a window partition.
    The repeated keys are found by the key's 64-bit hash (grouping and joining on a number, not on the key's text):
    a key whose hash only collides with another key's is ranked alone in its own window partition, so it is kept as
    well, and the rows are exactly those of ranking by the key itself.
    Not a gain where the deduplicated rows feed an expensive step (stg_vendors__enrichment's JSON explode measured
    ~7% slower at 1M, twice as slow in the hourly run), so it is used where the rows are only typed.
    relation is read three times: a table, or a CTE declared `as not materialized` (DuckDB would otherwise
    materialize a CTE read more than once). key: one SQL expression. -#}
{% macro dedupe_latest_mostly_unique(relation, key, order_by) -%}
    select {{ relation }}.*
    from {{ relation }}
    anti join (
        select hash({{ key }}) as _dedupe_hash from {{ relation }} group by all having count(*) > 1
    ) as _repeated on hash({{ key }}) = _repeated._dedupe_hash

    union all

    select * exclude (_dedupe_row_number)
    from (
        select {{ relation }}.*, row_number() over (partition by {{ key }} order by {{ order_by }}) as _dedupe_row_number
        from {{ relation }}
        semi join (
            select hash({{ key }}) as _dedupe_hash from {{ relation }} group by all having count(*) > 1
        ) as _repeated on hash({{ key }}) = _repeated._dedupe_hash
    ) as _ranked
    where _dedupe_row_number = 1
{%- endmacro %}
