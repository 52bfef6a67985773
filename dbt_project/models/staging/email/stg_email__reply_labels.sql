-- Replies triaged by hand (the reply classifier's training labels): one row per reply event_id, the latest
-- label wins (an SDR may relabel), joined to the reply for its text and contact.
with source as (
    select *, {{ to_utc_timestamp('labelled_at') }} as labelled_at_utc
    from {{ source('email', 'email_reply_labels') }}
),

latest as (
    {{ dedupe_latest('source', 'trim(event_id)', 'labelled_at_utc desc nulls last, _loaded_at desc, _source_line desc') }}
)

select
    nullif(trim(l.event_id), '') as event_id,
    nullif(trim(l.message_id), '') as message_id,
    {{ normalize_code('l.label') }} as reply_label,
    nullif(trim(l.labelled_by), '') as labelled_by,
    l.labelled_at_utc as labelled_at,
    e.event_id is not null as reply_found,
    e.contact_id,
    e.email,
    e.occurred_at as replied_at,
    e.reply_text,
    l._source_file,
    l._source_line,
    l._loaded_at
from latest as l
left join {{ ref('stg_email__events') }} as e on e.event_id = trim(l.event_id) and e.event_type = 'reply'
