-- Things that ask the owner for a quick first touch — every email reply (the reply model says which are
-- positive, referrals or procurement asks) and every accepted demo request from a known contact — with the
-- first touch after each: the earliest call, logged email, meeting or completed task on any of the golden
-- contact's records by its owner (by anyone while the contact has no owner). No touch yet: NULLs.
with replies as (
    select
        'reply' as trigger_kind,
        e.event_id as trigger_id,
        x.golden_contact_id,
        e.contact_id as contact_record_id,
        e.occurred_at as triggered_at,
        e.reply_text
    from {{ ref('stg_email__events') }} as e
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = e.contact_id
    where e.event_type = 'reply' and x.golden_contact_id is not null
),

demo_requests as (
    select
        'demo_request' as trigger_kind,
        l.submission_id as trigger_id,
        c.golden_contact_id,
        cast(null as bigint) as contact_record_id,
        l.submitted_at as triggered_at,
        l.message as reply_text
    from {{ ref('int_leads__classified') }} as l
    inner join {{ ref('dim_contacts') }} as c on c.email = l.email
    where l.lead_status = 'accepted' and l.lead_source = 'demo_request' and l.email is not null
    -- Two golden contacts can share an email (duplicates the matcher left apart): the request counts once.
    qualify row_number() over (partition by l.submission_id order by c.golden_contact_id) = 1
),

triggers as (
    select * from replies
    union all
    select * from demo_requests
),

touches as (
    -- Activities and meetings on any record of a golden contact.
    select x.golden_contact_id, a.activity_id as touch_id, a.activity_type as touch_kind, a.assigned_to,
           a.activity_at as touched_at
    from (select *, unnest(associated_contact_ids) as contact_id from {{ ref('stg_hubspot__activities') }}) as a
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = a.contact_id
    where a.is_touch and a.activity_at is not null
    union all
    select x.golden_contact_id, m.meeting_id, 'MEETING', m.assigned_to, m.created_at
    from (select *, unnest(associated_contact_ids) as contact_id from {{ ref('stg_hubspot__meetings') }}) as m
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = m.contact_id
    where m.created_at is not null
),

owned as (
    select t.*, c.contact_owner
    from triggers as t
    inner join {{ ref('dim_contacts') }} as c using (golden_contact_id)
),

first_touch as (
    select
        o.trigger_kind, o.trigger_id,
        min(th.touched_at) as first_touch_at,
        arg_min(th.touch_id, (th.touched_at, th.touch_id)) filter (where th.touched_at is not null) as first_touch_id,
        arg_min(th.touch_kind, (th.touched_at, th.touch_id)) filter (where th.touched_at is not null) as first_touch_kind,
        arg_min(th.assigned_to, (th.touched_at, th.touch_id)) filter (where th.touched_at is not null) as first_touch_by
    from owned as o
    inner join touches as th
        on th.golden_contact_id = o.golden_contact_id
        and th.touched_at >= o.triggered_at
        and (o.contact_owner is null or th.assigned_to = o.contact_owner)
    group by o.trigger_kind, o.trigger_id
)

select
    o.trigger_kind,
    o.trigger_id,
    o.golden_contact_id,
    o.contact_record_id,
    o.contact_owner,
    o.triggered_at,
    o.reply_text,
    f.first_touch_at,
    f.first_touch_id,
    f.first_touch_kind,
    f.first_touch_by
from owned as o
left join first_touch as f using (trigger_kind, trigger_id)
