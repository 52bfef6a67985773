-- Treated and held-out actions with their workflow's primary outcome (docs/outcomes.md "Lift"): one row per action
-- that was sent (treated) or held out, and whether the outcome came within the window after it was proposed, with
-- the row that shows it. Contacts (and leads, through their email) book a meeting; at-risk saves renew (a
-- closed-won deal on the account), whether the action targets the account or one of its contacts (the save email
-- goes to a person, its holdout unit is the account). Other targets (deals, emails, domains) have no primary
-- outcome here. `lift_unit` names what the outcome happens to (the account for saves, the golden contact for
-- contacts and leads that reached one, else the target): fct_workflow_lift counts units, not actions, as a
-- target proposed again, or two people of one account, share one outcome.
with decisions as (
    select
        *,
        workflow = 'at_risk' or target_kind = 'account' as is_save,
        case when target_kind = 'account' then target_id else account_id end as save_account_id
    from {{ ref('stg_actionhouse__decisions') }}
    where is_treated or is_held_out
),

contact_records as (
    select source_record_id as contact_id, golden_contact_id from {{ ref('contact_crosswalk') }}
),

lead_contacts as (
    select distinct cast(l.submission_id as varchar) as submission_id, x.golden_contact_id
    from {{ ref('int_leads__classified') }} as l
    inner join {{ ref('stg_hubspot__contacts') }} as c on c.email = l.email
    inner join contact_records as x on x.contact_id = c.contact_id
    where l.email is not null
),

targets as (
    select d.action_id, coalesce(lc.golden_contact_id, case when d.target_kind = 'contact' then d.target_id end)
        as golden_contact_id
    from decisions as d
    left join lead_contacts as lc on d.target_kind = 'lead' and lc.submission_id = d.target_id
    where d.target_kind in ('contact', 'lead') and not d.is_save
),

meetings as (
    select x.golden_contact_id, m.meeting_id, coalesce(m.created_at, m.meeting_start_at) as booked_at
    from (select unnest(associated_contact_ids) as contact_id, * from {{ ref('stg_hubspot__meetings') }}) as m
    inner join contact_records as x on x.contact_id = m.contact_id
    where x.golden_contact_id in (select golden_contact_id from targets)
),

meeting_outcomes as (
    select d.action_id, arg_min(m.meeting_id, (m.booked_at, m.meeting_id)) as meeting_id
    from decisions as d
    inner join targets as t on t.action_id = d.action_id
    inner join meetings as m on m.golden_contact_id = t.golden_contact_id and m.booked_at > d.proposed_at
        and m.booked_at <= d.proposed_at + to_days({{ var('outcome_window_days_meetings') }})
    group by d.action_id
),

save_outcomes as (
    select d.action_id, arg_min(p.deal_id, (p.closed_won_entered_at, p.deal_id)) as deal_id
    from decisions as d
    inner join {{ ref('fct_pipeline_deals') }} as p
        on d.is_save and p.golden_account_id = d.save_account_id
        and p.closed_won_entered_at > d.proposed_at
        and p.closed_won_entered_at <= d.proposed_at + to_days({{ var('outcome_window_days_saves') }})
    group by d.action_id
),

as_of as (
    select {{ data_as_of() }} as as_of
)

select
    d.action_id,
    d.workflow,
    d.action_type,
    d.target_kind,
    d.target_id,
    case when d.is_save then d.save_account_id else coalesce(t.golden_contact_id, d.target_id) end as lift_unit,
    case when d.is_held_out then 'held_out' else 'treated' end as lift_group,
    d.proposed_at,
    d.sent_at,
    case when d.is_save then 'renewed' else 'meeting_booked' end as outcome,
    case when d.is_save then {{ var('outcome_window_days_saves') }}
        else {{ var('outcome_window_days_meetings') }} end as window_days,
    coalesce(m.meeting_id is not null or s.deal_id is not null, false) as had_outcome,
    case when m.meeting_id is not null then 'stg_hubspot__meetings' when s.deal_id is not null
        then 'fct_pipeline_deals' end as evidence_table,
    cast(coalesce(m.meeting_id, s.deal_id) as varchar) as evidence_id,
    d.proposed_at + to_days(case when d.is_save then {{ var('outcome_window_days_saves') }}
        else {{ var('outcome_window_days_meetings') }} end) > as_of.as_of as window_open
from decisions as d
cross join as_of
left join targets as t on t.action_id = d.action_id
left join meeting_outcomes as m on m.action_id = d.action_id
left join save_outcomes as s on s.action_id = d.action_id
where d.target_kind in ('contact', 'lead', 'account') or d.is_save
