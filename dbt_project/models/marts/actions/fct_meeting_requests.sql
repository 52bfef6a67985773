-- Meeting proposals (W8): every email reply of a known contact in the last `meeting_request_lookback_days`, with
-- whether a meeting with the contact was booked after it (the reply model and the planner decide which replies ask
-- for a meeting).
with as_of as (
    select {{ data_as_of() }} as as_of
),

replies as (
    select e.event_id, e.occurred_at as replied_at, e.reply_text, e.contact_id as contact_record_id,
           x.golden_contact_id
    from {{ ref('stg_email__events') }} as e
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = e.contact_id
    cross join as_of
    where e.event_type = 'reply' and x.golden_contact_id is not null
        and e.occurred_at <= as_of.as_of
        and e.occurred_at > as_of.as_of - to_days({{ var('meeting_request_lookback_days') }})
),

-- The meetings' contact ids unnested in the select list (a lateral unnest is a delim join over every meeting).
meetings as (
    select x.golden_contact_id, m.meeting_id, m.created_at, m.meeting_start_at
    from (
        select meeting_id, created_at, meeting_start_at, unnest(associated_contact_ids) as contact_id
        from {{ ref('stg_hubspot__meetings') }}
        where coalesce(meeting_outcome, 'SCHEDULED') <> 'CANCELED'
    ) as m
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = m.contact_id
)

select
    r.event_id,
    r.replied_at,
    r.reply_text,
    r.contact_record_id,
    r.golden_contact_id,
    exists (
        select 1 from meetings as m
        where m.golden_contact_id = r.golden_contact_id
            and (m.created_at >= r.replied_at or m.meeting_start_at >= r.replied_at)
    ) as meeting_booked
from replies as r
