-- Golden contacts' surviving field values and their provenance, one row per golden contact (dim_contacts adds the
-- cluster's members and the account). Incremental: a contact's row is rebuilt only when its rows in
-- int_entities__contact_golden_fields changed (`fields_hash`, an order-independent hash of them), so an hourly
-- refresh writes the provenance JSON of the contacts the hour touched, not of every contact (rebuilt whole, the
-- JSON was most of the golden records' cost: ~5 s an hour at 100k contacts). Contacts no longer in the golden
-- fields (merged into another) come out of the comparison with the previous rows (a full join) as a tombstone: the
-- id, every other column NULL, `fields_hash` NULL (a written row's never is); delete+insert deletes the old row by
-- it and the post-hook deletes it after. This replaces a second pass over every golden field row after the run.
-- `provenance` is stored with zstd (macros/column_compression.sql), as in dim_contacts: every contact's JSON (2.9 GB
-- at 1M contacts, all distinct) is written in about half the CPU and a fifth of the room of DuckDB's default.
{{ config(
    materialized='incremental',
    unique_key='golden_contact_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    column_compression={'provenance': 'zstd'},
    post_hook="delete from {{ this }} where fields_hash is null"
) }}
{%- set fields = golden_contact_fields() %}
{%- set fields_hash -%}
    bit_xor(hash(f.field_name, f.value, f.source_class, f.source_name, f.source_record_id, f.observed_at, f.confidence,
                 f.candidate_count, f.distinct_value_count))
{%- endset %}
-- Read twice in an hour (every row hashed; the changed contacts' rows): not materialized, as DuckDB would otherwise
-- buffer every golden field row, all columns, before either read.
with golden_fields as not materialized (
    select * from {{ ref('int_entities__contact_golden_fields') }}
){%- if is_incremental() %},

hashed as (
    select f.golden_contact_id, {{ fields_hash }} as fields_hash
    from golden_fields as f
    group by f.golden_contact_id
),

compared as materialized (
    select h.golden_contact_id, h.fields_hash, previous.golden_contact_id as previous_id
    from hashed as h
    full join {{ this }} as previous on previous.golden_contact_id = h.golden_contact_id
    where h.golden_contact_id is null or previous.fields_hash is distinct from h.fields_hash
),

changed as (
    select golden_contact_id, fields_hash from compared where golden_contact_id is not null
)
{%- endif %}

select
    f.golden_contact_id,
    {%- for f in fields %}
    max(f.value) filter (where f.field_name = '{{ f }}') as {{ f }},
    {%- endfor %}
    max(f.source_class) filter (where f.field_name = 'phone') as phone_source_class,
    max(f.source_class) filter (where f.field_name = 'job_title') as job_title_source_class,
    -- One JSON object keyed by field in field-name order, so reruns give byte-identical rows. Built field by field
    -- (a fixed list) rather than as an ordered list aggregate: half the time for the same text.
    '{' || concat_ws(','
    {%- for f in fields | sort %},
        '"{{ f }}":' || max(to_json(struct_pack(
            source_class := f.source_class, source := f.source_name, source_record_id := f.source_record_id,
            observed_at := f.observed_at, confidence := f.confidence,
            candidates := f.candidate_count, distinct_values := f.distinct_value_count
        ))) filter (where f.field_name = '{{ f }}')
    {%- endfor %}
    ) || '}' as provenance,
    {%- if is_incremental() %}
    any_value(c.fields_hash) as fields_hash
from golden_fields as f
inner join changed as c using (golden_contact_id)
-- The same rows: the semi join is built on the changed contacts and filters the golden fields before the join above
-- (DuckDB, expecting most contacts to have changed, would build that join on every golden field).
where f.golden_contact_id in (select golden_contact_id from changed)
    {%- else %}
    -- Every contact is built: the hash in the same pass, rather than hashing every row first and joining them back
    -- (two passes and a join of every golden field).
    {{ fields_hash }} as fields_hash
from golden_fields as f
    {%- endif %}
group by f.golden_contact_id
{%- if is_incremental() %}

union all

-- A tombstone for each previous contact gone from the golden fields.
select
    previous_id as golden_contact_id,
    {%- for f in fields %}
    null as {{ f }},
    {%- endfor %}
    null as phone_source_class,
    null as job_title_source_class,
    null as provenance,
    null as fields_hash
from compared
where golden_contact_id is null
{%- endif %}
