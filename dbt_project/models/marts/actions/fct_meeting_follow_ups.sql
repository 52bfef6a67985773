-- CRM hygiene (W11), tasks from activity: meetings held (outcome COMPLETED) in the last
-- `hygiene_lookback_days` days, each with the first touch after it by the meeting's owner — a call, logged
-- email or completed task on any of the meeting's contacts. No touch yet: NULLs (the follow-up is owed).
with as_of as (
    select {{ data_as_of() }} as as_of
),

held as (
    select m.*
    from {{ ref('stg_hubspot__meetings') }} as m, as_of
    where m.meeting_outcome = 'COMPLETED'
        and m.meeting_end_at <= as_of.as_of
        and m.meeting_end_at > as_of.as_of - to_days({{ var('hygiene_lookback_days') }})
        and len(m.associated_contact_ids) > 0
),

-- A touch shares a contact with the meeting: joined on equal contact ids after unnesting both lists (an overlap
-- test in the join condition compared every held meeting with every activity). An activity sharing two contacts
-- with a meeting pairs with it twice: the first touch below is the same.
touches as (
    select h.meeting_id, a.activity_id, a.activity_at, a.activity_type
    from (select meeting_id, meeting_end_at, assigned_to, unnest(associated_contact_ids) as contact_id from held) as h
    inner join (
        select activity_id, activity_at, activity_type, assigned_to, unnest(associated_contact_ids) as contact_id
        from {{ ref('stg_hubspot__activities') }}
        where is_touch
    ) as a
        on a.contact_id = h.contact_id
        and a.assigned_to is not distinct from h.assigned_to and a.activity_at >= h.meeting_end_at
)

select
    h.meeting_id,
    h.meeting_name,
    h.meeting_start_at,
    h.meeting_end_at,
    h.assigned_to as owner,
    h.associated_contact_ids[1] as contact_record_id,
    x.golden_contact_id,
    h.associated_deal_ids[1] as deal_id,
    min(t.activity_at) as first_touch_at,
    arg_min(t.activity_id, (t.activity_at, t.activity_id)) filter (where t.activity_at is not null) as first_touch_id,
    arg_min(t.activity_type, (t.activity_at, t.activity_id)) filter (where t.activity_at is not null) as first_touch_kind,
    any_value(as_of.as_of) as as_of
from held as h
cross join as_of
left join {{ ref('contact_crosswalk') }} as x on x.source_record_id = h.associated_contact_ids[1]
left join touches as t on t.meeting_id = h.meeting_id
group by all
