-- Pipeline health, row level (W14): one row per deal as of the data's latest moment — what every pipeline
-- summary counts, so each of their figures traces back to these rows (their `deal_ids`). Next step: a meeting
-- scheduled after the as-of moment, or an open task, on the deal, its contacts or its company.
{%- set stages = ['appointment_scheduled', 'qualified_to_buy', 'presentation_scheduled',
                  'decision_maker_bought_in', 'contract_sent'] %}
with as_of as (
    select {{ data_as_of() }} as as_of
),

deals as (
    select * from {{ ref('stg_hubspot__deals') }}
),

primary_contact as (
    -- The deal's first associated contact record, its golden contact and how that person came to us.
    select
        d.deal_id,
        d.associated_contact_ids[1] as contact_record_id,
        x.golden_contact_id,
        c.original_source
    from deals as d
    left join {{ ref('contact_crosswalk') }} as x on x.source_record_id = d.associated_contact_ids[1]
    left join {{ ref('stg_hubspot__contacts') }} as c on c.contact_id = d.associated_contact_ids[1]
),

account as (
    select d.deal_id, arg_min(x.golden_account_id, x.record_id) as golden_account_id
    from deals as d, unnest(d.associated_company_ids) as u(company_id)
    inner join {{ ref('int_entities__company_records') }} as x on x.record_id = u.company_id
    group by d.deal_id
),

upcoming_meetings as (
    select m.meeting_id, m.meeting_start_at, m.associated_deal_ids, m.associated_contact_ids
    from {{ ref('stg_hubspot__meetings') }} as m, as_of
    where m.meeting_start_at > as_of.as_of and coalesce(m.meeting_outcome, 'SCHEDULED') in ('SCHEDULED', 'RESCHEDULED')
),

open_tasks as (
    select a.activity_id, a.associated_contact_ids, a.associated_company_ids
    from {{ ref('stg_hubspot__activities') }} as a
    where a.activity_type = 'TASK' and coalesce(a.task_status, '') <> 'COMPLETED'
),

-- A deal's contacts and companies one per row, so meetings and tasks join on equal ids (hash joins) rather than
-- on list overlaps (a comparison of every deal with every meeting and task: minutes at a million contacts).
deal_contacts as (
    select distinct d.deal_id, u.contact_id
    from deals as d, unnest(d.associated_contact_ids) as u(contact_id)
),

deal_companies as (
    select distinct d.deal_id, u.company_id
    from deals as d, unnest(d.associated_company_ids) as u(company_id)
),

deal_meetings as (
    -- A meeting on the deal itself, or with one of its contacts.
    select u.deal_id, m.meeting_start_at
    from upcoming_meetings as m, unnest(m.associated_deal_ids) as u(deal_id)
    union all
    select dc.deal_id, m.meeting_start_at
    from upcoming_meetings as m, unnest(m.associated_contact_ids) as u(contact_id)
    inner join deal_contacts as dc on dc.contact_id = u.contact_id
),

deal_tasks as (
    -- An open task on one of the deal's contacts or companies (each task counted once per deal).
    select dc.deal_id, t.activity_id
    from open_tasks as t, unnest(t.associated_contact_ids) as u(contact_id)
    inner join deal_contacts as dc on dc.contact_id = u.contact_id
    union
    select dco.deal_id, t.activity_id
    from open_tasks as t, unnest(t.associated_company_ids) as u(company_id)
    inner join deal_companies as dco on dco.company_id = u.company_id
),

next_steps as (
    select d.deal_id, m.next_meeting_at, t.open_tasks
    from deals as d
    left join (select deal_id, min(meeting_start_at) as next_meeting_at from deal_meetings group by deal_id) as m
        using (deal_id)
    left join (select deal_id, count(distinct activity_id) as open_tasks from deal_tasks group by deal_id) as t
        using (deal_id)
)

select
    d.deal_id,
    d.deal_name,
    d.deal_owner as owner,
    d.deal_stage as stage,
    d.deal_type,
    d.amount,
    d.close_date,
    d.created_at,
    cast(date_trunc('week', d.created_at) as date) as created_week,
    d.deal_stage not in ('closed won', 'closed lost') as is_open,
    d.deal_stage = 'closed won' as is_won,
    d.deal_stage = 'closed lost' as is_lost,
    case d.deal_stage when 'closed won' then d.closed_won_entered_at when 'closed lost' then d.closed_lost_entered_at
    end as closed_at,
    a.golden_account_id,
    p.contact_record_id as primary_contact_record_id,
    p.golden_contact_id as primary_golden_contact_id,
    -- Where the deal came from: its primary contact's original source; renewals and upsells are existing business.
    case when d.deal_type = 'existingbusiness' then 'existing business'
         else coalesce(p.original_source, 'unknown') end as source,
    -- Deal size tier (amount bands), so win/loss compares like with like.
    case when d.amount is null then 'no amount'
         when d.amount >= {{ var('pipeline_tier_large_amount') }} then 'large'
         when d.amount >= {{ var('pipeline_tier_medium_amount') }} then 'medium'
         else 'small' end as deal_tier,
    ns.next_meeting_at,
    coalesce(ns.open_tasks, 0) as open_tasks,
    ns.next_meeting_at is not null or coalesce(ns.open_tasks, 0) > 0 as has_next_step,
    d.close_date is null as missing_close_date,
    d.amount is null as missing_amount,
    p.contact_record_id is null as missing_primary_contact,
    {%- for s in stages %}
    d.{{ s }}_entered_at,
    {%- endfor %}
    d.closed_won_entered_at,
    d.closed_lost_entered_at,
    as_of.as_of
from deals as d
cross join as_of
left join primary_contact as p using (deal_id)
left join account as a using (deal_id)
left join next_steps as ns using (deal_id)
