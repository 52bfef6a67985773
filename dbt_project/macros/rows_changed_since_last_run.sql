{#- The rows of `rows` (a CTE or relation with the model's final columns) that are new or differ from the model's
    previous row with the same `key`, for an incremental model with strategy delete+insert on `key`: each row is
    compared whole (a hash of the row on both sides), so the model writes only the keys whose row changed, and the
    table ends exactly as a rebuild would leave it (keys gone are the post-hook's to delete). On the first build and
    under --full-refresh every row. Worth it where writing the rows is the cost (wide text columns), not computing
    them: every row is still computed. -#}
{% macro rows_changed_since_last_run(rows, key) -%}
    select n.*
    from {{ rows }} as n
    {%- if is_incremental() %}
    left join {{ this }} as previous using ({{ key }})
    where previous.{{ key }} is null or hash(n) <> hash(previous)
    {%- endif %}
{%- endmacro %}
