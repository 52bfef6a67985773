-- Buying signals: one row per signal_id (latest load wins), typed.
with source as (
    select * from {{ source('signals', 'signals') }}
),

latest as (
    {{ dedupe_latest('source', 'trim(signal_id)', '_loaded_at desc, _source_line desc') }}
)

select
    nullif(trim(signal_id), '') as signal_id,
    {{ normalize_code('type') }} as signal_type,
    {{ normalize_domain('domain') }} as domain,
    {{ nullif_blank('domain') }} as domain_raw,
    {{ to_utc_timestamp('observed_at') }} as observed_at,
    {{ normalize_text('detail') }} as detail,
    {{ to_double('magnitude') }} as magnitude,
    {{ normalize_code('source') }} as signal_source,
    _source_file,
    _source_line,
    _loaded_at
from latest
