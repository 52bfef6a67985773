-- No-show recovery (W9): meetings whose outcome is NO_SHOW in the last `no_show_lookback_days` days, each with
-- how many times the contact had not shown up before, whether a later meeting with them is already booked, and
-- their latest reply (what frustration is read from).
with as_of as (
    select {{ data_as_of() }} as as_of
),

meetings as (
    select m.*, x.golden_contact_id
    from {{ ref('stg_hubspot__meetings') }} as m
    left join {{ ref('contact_crosswalk') }} as x on x.source_record_id = m.associated_contact_ids[1]
),

no_shows as (
    select m.*
    from meetings as m, as_of
    where m.meeting_outcome = 'NO_SHOW'
        and m.meeting_start_at <= as_of.as_of
        and m.meeting_start_at > as_of.as_of - to_days({{ var('no_show_lookback_days') }})
),

replies as (
    select x.golden_contact_id, e.event_id, e.occurred_at, e.reply_text
    from {{ ref('stg_email__events') }} as e
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = e.contact_id
    cross join as_of
    where e.event_type = 'reply' and e.occurred_at <= as_of.as_of
),

latest_reply as (
    select golden_contact_id,
           arg_max(event_id, (occurred_at, event_id)) filter (where occurred_at is not null) as event_id,
           max(occurred_at) as replied_at,
           arg_max(reply_text, (occurred_at, event_id)) filter (where occurred_at is not null) as reply_text
    from replies
    group by golden_contact_id
)

select
    n.meeting_id,
    n.meeting_name,
    n.meeting_start_at,
    n.assigned_to as owner,
    n.associated_contact_ids[1] as contact_record_id,
    n.golden_contact_id,
    n.associated_deal_ids[1] as deal_id,
    (
        select count(*) from meetings as e
        where e.golden_contact_id = n.golden_contact_id and e.meeting_outcome = 'NO_SHOW'
            and e.meeting_start_at < n.meeting_start_at
    ) as earlier_no_shows,
    exists (
        select 1 from meetings as later
        where later.golden_contact_id = n.golden_contact_id and later.meeting_start_at > n.meeting_start_at
            and later.meeting_outcome in ('SCHEDULED', 'RESCHEDULED', 'COMPLETED')
    ) as rebooked,
    r.event_id as latest_reply_event_id,
    r.replied_at as latest_reply_at,
    r.reply_text as latest_reply_text
from no_shows as n
left join latest_reply as r on r.golden_contact_id = n.golden_contact_id
