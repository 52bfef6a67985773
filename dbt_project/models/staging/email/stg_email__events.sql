-- Email engagement events: one row per event_id (latest load wins).
-- Incremental: events are append-only, so each run stages only rows loaded since the last (latest load wins).
-- An id padded with spaces names the same event (deduplicated on the trimmed id, the key it is stored under).
-- `event_id` and `message_id` are stored with zstd (macros/column_compression.sql): all distinct, written in about
-- half the CPU with zstd and read as fast (the event id is the hour's delete key and the marts' join key).
-- `_staged_at` stamps the rows each run writes: the tests of the event id and the email check the latest run's rows.
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    column_compression={'event_id': 'zstd', 'message_id': 'zstd'}
) }}
with source as not materialized (
    select * from {{ source('email', 'email_events') }}
    {{ loaded_since_last_run() }}
),

latest as (
    {{ dedupe_latest_mostly_unique('source', trim_text('event_id'), '_loaded_at desc, _source_line desc') }}
),

{# The address checked once a distinct address (~10 events an address at 1M contacts: the regex once per address
    rather than once per event) and joined back: it is valid exactly when its normalized form is not NULL, and its
    domain is that form's (email_is_valid and email_domain of normalize_email each ran the address regex again). The
    addresses are those of `source`, a superset of `latest`'s: the lookup finds each row's own address; a NULL
    address finds none and stays NULL, as normalize_email(NULL) is. -#}
addresses as (
    select email as _email_key, {{ normalize_email('email') }} as _email
    from (select distinct email from source) as distinct_addresses
),

checked as (
    select latest.*, addresses._email
    from latest
    left join addresses on latest.email = addresses._email_key
)

select
    nullif({{ trim_text('event_id') }}, '') as event_id,
    {{ normalize_code('type') }} as event_type,
    _email as email,
    _email is not null as email_is_valid,
    {{ nullif_blank('email') }} as email_raw,
    {{ email_domain('_email') }} as email_domain,
    {{ to_id('contact_record_id') }} as contact_id,
    nullif({{ trim_text('campaign_id') }}, '') as campaign_id,
    nullif({{ trim_text('sequence_id') }}, '') as sequence_id,
    nullif({{ trim_text('message_id') }}, '') as message_id,
    {{ to_utc_timestamp('timestamp') }} as occurred_at,
    nullif({{ trim_text('url') }}, '') as url,
    {{ normalize_domain('url') }} as url_domain,
    {{ nullif_blank('reply_text') }} as reply_text,
    {{ normalize_code('bounce_type') }} as bounce_type,
    _source_file,
    _source_line,
    _loaded_at,
    {{ run_started_stamp() }} as _staged_at
from checked
