-- HubSpot tickets: latest version per Ticket ID, renamed and typed.
with source as (
    select * from {{ source('hubspot', 'tickets') }}
),

typed as (
    select
        {{ to_id('ticket_id') }} as _ticket_id,
        {{ to_utc_timestamp('last_modified_date') }} as last_modified_at,
        *
    from source
),

latest as (
    {{ dedupe_latest('typed', '_ticket_id', 'last_modified_at desc nulls last, _loaded_at desc, _source_line desc') }}
)

select
    _ticket_id as ticket_id,
    {{ normalize_text('ticket_name') }} as ticket_name,
    {{ normalize_code('pipeline') }} as pipeline,
    {{ normalize_code('ticket_status') }} as ticket_status,
    {{ normalize_code('priority') }} as priority,
    {{ normalize_code('category') }} as category,
    {{ to_utc_timestamp('create_date') }} as created_at,
    {{ to_utc_timestamp('close_date') }} as closed_at,
    last_modified_at,
    {{ to_id_list('associated_company_ids') }} as associated_company_ids,
    {{ to_id_list('associated_contact_ids') }} as associated_contact_ids,
    coalesce({{ to_boolean('escalated') }}, false) as is_escalated,
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at
from latest
