-- Enrichment payloads exploded to one row per (payload_id, field_name) with value, confidence, as_of.
-- Incremental: each run explodes again only the payloads with a row loaded since the last run (all their versions
-- compete for latest), replacing every field row of those payloads.
{{ config(materialized='incremental', unique_key='payload_id', incremental_strategy='delete+insert',
          meta={'row_key': 'enrichment_field_id'}) }}
with source as (
    {{ versions_of_records_loaded_since_last_run(source('vendors', 'enrichment'), 'trim(payload_id)') }}
),

latest as (
    {{ dedupe_latest('source', 'trim(payload_id)', '_loaded_at desc, _source_line desc') }}
),

-- What belongs to the payload (its id, vendor, match key, receipt time) is computed once per payload, before the
-- explode gives it a row per field (~4 at 1M contacts): the match key's normalization is regex work.
payloads as (
    select
        nullif(trim(payload_id), '') as _payload_id,
        {{ normalize_code('vendor') }} as _vendor,
        {{ normalize_code('object_type') }} as _object_type,
        {{ nullif_blank('match_key') }} as _match_key_raw,
        case
            when lower(trim(object_type)) = 'contact' then {{ normalize_email('match_key') }}
            when lower(trim(object_type)) = 'company' then {{ normalize_domain('match_key') }}
        end as _match_key,
        {{ to_utc_timestamp('received_at') }} as _received_at,
        fields,
        _source_file,
        _source_line,
        _loaded_at
    from latest
    where {{ json_type_of('fields') }} = 'OBJECT'
),

exploded as (
    select
        *,
        {{ json_object_keys_unnest('fields') }} as field_name
    from payloads
),

fields as (
    select
        *,
        {{ json_member('fields', 'field_name') }} as _field
    from exploded
),

parts as (
    select
        *,
        case when {{ json_type_of('_field') }} = 'OBJECT' then {{ json_value('_field', 'value') }} else _field end as _value
    from fields
)

select
    _payload_id || ':' || field_name as enrichment_field_id,
    _payload_id as payload_id,
    _vendor as vendor,
    _object_type as object_type,
    _match_key_raw as match_key_raw,
    _match_key as match_key,
    _received_at as received_at,
    lower(field_name) as field_name,
    -- scalar values as text; arrays/objects as their JSON text
    {{ json_as_text('_value') }} as value,
    _value as value_json,
    {{ to_double(json_text('_field', 'confidence')) }} as confidence,
    {{ to_utc_timestamp(json_text('_field', 'as_of')) }} as as_of,
    _source_file,
    _source_line,
    _loaded_at
from parts
