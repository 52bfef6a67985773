-- Multi-threading (W12): late-stage open deals (decision maker bought-in, contract sent) with how many of their
-- contacts engaged in the last 30 days (an email open, click or reply, or a held meeting) and the functions they
-- cover — and, per deal, the other contacts at the account who could be brought in (one row per candidate).
with as_of as (
    select {{ data_as_of() }} as as_of
),

late as (
    select d.deal_id, d.deal_name, d.owner, d.stage, d.golden_account_id, s.associated_contact_ids, d.as_of
    from {{ ref('fct_pipeline_deals') }} as d
    inner join {{ ref('stg_hubspot__deals') }} as s using (deal_id)
    where d.is_open and d.stage in ('decision maker bought-in', 'contract sent') and d.golden_account_id is not null
),

deal_people as (
    select l.deal_id, x.golden_contact_id
    from late as l, unnest(l.associated_contact_ids) as u(contact_id)
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = u.contact_id
),

engaged as (
    select distinct x.golden_contact_id
    from {{ ref('stg_email__events') }} as e
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = e.contact_id
    cross join as_of
    where e.event_type in ('open', 'click', 'reply') and e.occurred_at > as_of.as_of - interval 30 day
        and e.occurred_at <= as_of.as_of
    union
    -- the meetings' contact ids unnested in the select list (a lateral unnest is a delim join over every meeting)
    select distinct x.golden_contact_id
    from (
        select meeting_start_at, unnest(associated_contact_ids) as contact_id
        from {{ ref('stg_hubspot__meetings') }}
        where meeting_outcome = 'COMPLETED'
    ) as m
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = m.contact_id
    cross join as_of
    where m.meeting_start_at > as_of.as_of - interval 30 day
),

deal_state as (
    select
        l.deal_id,
        count(distinct dp.golden_contact_id) filter (where e.golden_contact_id is not null) as engaged_stakeholders,
        list(distinct c.role_category) filter (where c.role_category is not null) as functions_covered
    from late as l
    left join deal_people as dp using (deal_id)
    left join engaged as e on e.golden_contact_id = dp.golden_contact_id
    left join {{ ref('dim_contacts') }} as c on c.golden_contact_id = dp.golden_contact_id
    group by l.deal_id
)

select
    l.deal_id,
    l.deal_name,
    l.owner,
    l.stage,
    l.golden_account_id,
    coalesce(s.engaged_stakeholders, 0) as engaged_stakeholders,
    coalesce(s.functions_covered, []) as functions_covered,
    c.golden_contact_id as candidate_golden_contact_id,
    c.role_category as candidate_function,
    c.seniority as candidate_seniority,
    c.job_title as candidate_job_title,
    l.as_of
from late as l
left join deal_state as s using (deal_id)
inner join {{ ref('dim_contacts') }} as c on c.golden_account_id = l.golden_account_id
where c.email is not null
    and c.golden_contact_id not in (select golden_contact_id from deal_people where deal_people.deal_id = l.deal_id)
