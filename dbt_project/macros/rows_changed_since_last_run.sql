{#- The rows of `rows` (a CTE or relation with the model's final columns) that are new or differ from the model's
    previous row with the same `key`, for an incremental model with strategy delete+insert on `key`: each row is
    compared whole (a hash of the row on both sides), so the model writes only the keys whose row changed, and the
    table ends exactly as a rebuild would leave it (keys gone are the post-hook's to delete). On the first build and
    under --full-refresh every row. Worth it where writing the rows is the cost (wide text columns), not computing
    them: every row is still computed. The previous side is hashed where it is read and joined as key and hash
    alone (the join then carries none of its columns), and without `gone` as an anti join on key and hash, which
    hashes the previous keys, not the computed rows with all their columns.

    `key` is a column name or a list of them (a composite unique_key). Where no upstream table lists the keys that
    should remain (a mart unioning units from many tables), pass `gone`: a column no real row leaves NULL. Each
    previous key missing from `rows` then comes back as a row with only its key set (`gone` NULL): delete+insert
    replaces the old row with it and the model's post-hook `delete from {{ this }} where <gone> is null` removes it.

    `previous`: a CTE of the previous rows to compare with instead of the whole model (its columns exactly those of
    `rows`, in order), for a model that computed only some units again this run: keys outside it are neither
    compared nor reported gone. `stamp`: a select item added to every row written (a bookkeeping column such as a
    watermark), left out of the comparison. -#}
{% macro rows_changed_since_last_run(rows, key, gone=none, previous=none, stamp=none) -%}
    {%- set keys = [key] if key is string else key -%}
    {%- set previous = previous or this -%}
    {%- set stamped = (', ' ~ stamp) if stamp else '' -%}
    {%- if is_incremental() and gone is not none %}
    {#- One full join finds the changed, the new and the gone keys (a left join and an anti join read and hashed both
        sides twice). A gone key's row has only its key, from the previous side: every other column of `rows` is NULL. #}
    select n.* replace ({% for k in keys %}coalesce(n.{{ k }}, previous.{{ k }}) as {{ k }}{{ ', ' if not loop.last }}{% endfor %}){{ stamped }}
    from {{ rows }} as n
    full join (
        select {{ keys | join(', ') }}, hash(previous) as row_hash from {{ previous }} as previous
    ) as previous using ({{ keys | join(', ') }})
    where previous.{{ keys[0] }} is null or n.{{ keys[0] }} is null or hash(n) <> previous.row_hash
    {%- else %}
    select n.*{{ stamped }}
    from {{ rows }} as n
    {%- if is_incremental() %}
    anti join (
        select {{ keys | join(', ') }}, hash(previous) as row_hash from {{ previous }} as previous
    ) as previous on {% for k in keys %}previous.{{ k }} = n.{{ k }} and {% endfor %}previous.row_hash = hash(n)
    {%- endif %}
    {%- endif %}
{%- endmacro %}
