-- HubSpot meetings: latest version per Record ID (no modified date in the export: latest load wins).
-- Incremental: the latest load wins, so each run stages only the rows loaded since the last run (every stored
-- version is older) and they replace the stored rows of their meetings; a record absent from later exports stays.
{{ config(materialized='incremental', unique_key='meeting_id', incremental_strategy='delete+insert') }}
with source as (
    select * from {{ source('hubspot', 'meetings') }}
    {{ loaded_since_last_run() }}
),

typed as (
    select {{ to_id('record_id') }} as meeting_id, *
    from source
),

latest as (
    {{ dedupe_latest('typed', 'meeting_id', '_loaded_at desc, _source_line desc') }}
)

select
    meeting_id,
    {{ normalize_text('meeting_name') }} as meeting_name,
    {{ to_utc_timestamp('meeting_start_time') }} as meeting_start_at,
    {{ to_utc_timestamp('meeting_end_time') }} as meeting_end_at,
    nullif(upper(trim(meeting_outcome)), '') as meeting_outcome,
    {{ normalize_text('activity_assigned_to') }} as assigned_to,
    {{ to_utc_timestamp('create_date') }} as created_at,
    {{ to_id_list('associated_contact_ids') }} as associated_contact_ids,
    {{ to_id_list('associated_company_ids') }} as associated_company_ids,
    {{ to_id_list('associated_deal_ids') }} as associated_deal_ids,
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at
from latest
