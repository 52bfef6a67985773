-- At-risk account verdicts (W13): one row per customer account, as of the data's latest moment, with every
-- signal's number and the rows behind it — kept whether or not anybody acts on it (history:
-- fct_account_risk_history). Thresholds are dbt vars (`risk_*` in dbt_project.yml).
--   escalations: escalated support cases opened in the last `risk_escalation_window_days` days
--   usage trend: active-user days of the last 28 days against the 28 before, in % and in Poisson noise units
--                z = (recent - prior) / sqrt(recent + prior), so a small account's wobble is not a drop
--   renewal:     days until the renewal date (company property, else the open renewal deal's close date)
--   contact:     days since the last call, logged email or held meeting with anyone at the account
-- Strong signals: `risk_min_escalated_cases` escalations; a usage drop beyond both `risk_usage_drop_pct` and
-- `risk_usage_min_z`. Weak signals: one escalation; a usage dip beyond the % and `risk_usage_dip_min_z`.
-- Tier 1: two strong signals, or one with the renewal near. Tier 2: one strong signal, or a weak one with the
-- renewal near. Tier 3 (watch): the renewal near and no recent contact, nothing else. Tiers 1-2 are at risk
-- (the planner acts on them).
with as_of as (
    select {{ data_as_of() }} as as_of
),

records as (
    select c.company_id, x.golden_account_id, c.lifecycle_stage, c.company_owner, c.renewal_date
    from {{ ref('stg_hubspot__companies') }} as c
    inner join {{ ref('int_entities__company_records') }} as x on x.record_id = c.company_id
    where x.golden_account_id is not null
),

customers as (
    select
        golden_account_id,
        list(company_id order by company_id) as company_record_ids,
        arg_min(company_owner, company_id) filter (where company_owner is not null) as account_owner,
        max(renewal_date) as renewal_property_date
    from records
    group by golden_account_id
    having bool_or(lifecycle_stage = 'customer')
),

account_of_record as (
    select company_id, golden_account_id from records
),

renewal_deals as (
    select
        r.golden_account_id,
        arg_min(d.deal_id, (d.close_date, d.deal_id)) filter (where d.close_date is not null) as renewal_deal_id,
        arg_min(d.deal_stage, (d.close_date, d.deal_id)) filter (where d.close_date is not null) as renewal_deal_stage,
        arg_min(d.deal_owner, (d.close_date, d.deal_id)) filter (where d.close_date is not null) as renewal_deal_owner,
        min(d.close_date) as renewal_deal_close_date
    from {{ ref('stg_hubspot__deals') }} as d, unnest(d.associated_company_ids) as t(company_id)
    inner join account_of_record as r on r.company_id = t.company_id
    where d.deal_type = 'existingbusiness' and d.deal_stage not in ('closed won', 'closed lost')
    group by r.golden_account_id
),

tickets as (
    select distinct r.golden_account_id, t.ticket_id, t.created_at, t.is_escalated
    from {{ ref('stg_hubspot__tickets') }} as t, unnest(t.associated_company_ids) as u(company_id)
    inner join account_of_record as r on r.company_id = u.company_id
),

escalations as (
    select
        t.golden_account_id,
        count(*) as escalated_cases,
        list(t.ticket_id order by t.created_at, t.ticket_id) as escalated_case_ids,
        max(t.created_at) as last_escalation_at
    from tickets as t, as_of
    where t.is_escalated
        and t.created_at > as_of.as_of - to_days({{ var('risk_escalation_window_days') }})
        and t.created_at <= as_of.as_of
    group by t.golden_account_id
),

-- Only the 56 days the aggregates read (an account without a day in them has no row here, the same NULLs as a row
-- of empty filtered aggregates after the left join below): at 1M ~11% of the 2.7M usage rows reach the join.
usage as (
    select
        a.golden_account_id,
        sum(u.active_users) filter (where u.usage_date > cast(as_of.as_of as date) - 28) as recent_active_user_days,
        sum(u.active_users) filter (
            where u.usage_date <= cast(as_of.as_of as date) - 28 and u.usage_date > cast(as_of.as_of as date) - 56
        ) as prior_active_user_days,
        min(u.usage_date) filter (where u.usage_date > cast(as_of.as_of as date) - 56) as usage_window_start,
        max(u.usage_date) filter (where u.usage_date > cast(as_of.as_of as date) - 56) as usage_window_end
    from {{ ref('stg_product__usage') }} as u
    inner join {{ ref('dim_accounts') }} as a on a.account_domain = u.account_domain
    cross join as_of
    where u.usage_date <= cast(as_of.as_of as date) and u.usage_date > cast(as_of.as_of as date) - 56
    group by a.golden_account_id
),

-- Each activity or meeting once per company it names: unnested in the select list (the same rows as a lateral
-- unnest, without DuckDB's delim join over every row: ~1.3 s of CPU at 1M).
touches as (
    select r.golden_account_id, a.activity_id as touch_id, a.activity_type as touch_kind, a.activity_at as touched_at
    from (
        select activity_id, activity_type, activity_at, unnest(associated_company_ids) as company_id
        from {{ ref('stg_hubspot__activities') }}
        where activity_type in ('CALL', 'EMAIL', 'MEETING')
    ) as a
    inner join account_of_record as r on r.company_id = a.company_id
    union all
    select r.golden_account_id, m.meeting_id, 'MEETING', m.meeting_start_at
    from (
        select meeting_id, meeting_start_at, unnest(associated_company_ids) as company_id
        from {{ ref('stg_hubspot__meetings') }}
        where meeting_outcome = 'COMPLETED'
    ) as m
    inner join account_of_record as r on r.company_id = m.company_id
),

last_touch as (
    select
        t.golden_account_id,
        max(t.touched_at) as last_contact_at,
        arg_max(t.touch_id, (t.touched_at, t.touch_id)) filter (where t.touched_at is not null) as last_contact_id,
        arg_max(t.touch_kind, (t.touched_at, t.touch_id)) filter (where t.touched_at is not null) as last_contact_kind
    from touches as t, as_of
    where t.touched_at <= as_of.as_of
    group by t.golden_account_id
),

measured as (
    select
        c.golden_account_id,
        a.company_name,
        a.account_domain,
        coalesce(c.account_owner, rd.renewal_deal_owner) as account_owner,
        c.company_record_ids,
        as_of.as_of,
        coalesce(c.renewal_property_date, cast(rd.renewal_deal_close_date as date)) as renewal_date,
        case when c.renewal_property_date is not null then 'company.renewal_date'
             when rd.renewal_deal_close_date is not null then 'deal.close_date' end as renewal_date_source,
        rd.renewal_deal_id,
        rd.renewal_deal_stage,
        coalesce(e.escalated_cases, 0) as escalated_cases,
        coalesce(e.escalated_case_ids, []) as escalated_case_ids,
        u.recent_active_user_days,
        u.prior_active_user_days,
        u.usage_window_start,
        u.usage_window_end,
        case when u.prior_active_user_days > 0
             then round(100.0 * (u.recent_active_user_days - u.prior_active_user_days) / u.prior_active_user_days, 1)
        end as usage_change_pct,
        case when u.recent_active_user_days + u.prior_active_user_days > 0
             then round((u.recent_active_user_days - u.prior_active_user_days)
                        / sqrt(u.recent_active_user_days + u.prior_active_user_days), 2)
        end as usage_change_z,
        lt.last_contact_at,
        lt.last_contact_id,
        lt.last_contact_kind
    from customers as c
    cross join as_of
    left join {{ ref('dim_accounts') }} as a on a.golden_account_id = c.golden_account_id
    left join renewal_deals as rd on rd.golden_account_id = c.golden_account_id
    left join escalations as e on e.golden_account_id = c.golden_account_id
    left join usage as u on u.golden_account_id = c.golden_account_id
    left join last_touch as lt on lt.golden_account_id = c.golden_account_id
),

signals as (
    select
        *,
        date_diff('day', cast(as_of as date), renewal_date) as days_to_renewal,
        date_diff('day', last_contact_at, as_of) as days_since_contact,
        escalated_cases >= {{ var('risk_min_escalated_cases') }} as has_escalations,
        coalesce(usage_change_pct <= -{{ var('risk_usage_drop_pct') }}
                 and usage_change_z <= -{{ var('risk_usage_min_z') }}, false) as has_usage_drop,
        escalated_cases >= 1 as has_an_escalation,
        coalesce(usage_change_pct <= -{{ var('risk_usage_drop_pct') }}
                 and usage_change_z <= -{{ var('risk_usage_dip_min_z') }}, false) as has_usage_dip,
        coalesce(date_diff('day', cast(as_of as date), renewal_date)
                 between 0 and {{ var('risk_renewal_within_days') }}, false) as has_renewal_soon,
        coalesce(date_diff('day', last_contact_at, as_of) > {{ var('risk_no_contact_days') }}, true) as has_no_contact
    from measured
),

tiered as (
    select
        *,
        case
            when has_escalations and has_usage_drop then 1
            when (has_escalations or has_usage_drop) and has_renewal_soon then 1
            when has_escalations or has_usage_drop then 2
            when (has_an_escalation or has_usage_dip) and has_renewal_soon then 2
            when has_renewal_soon and has_no_contact then 3
        end as risk_tier
    from signals
)

select
    golden_account_id,
    company_name,
    account_domain,
    account_owner,
    company_record_ids,
    as_of,
    case when risk_tier in (1, 2) then 'at_risk' when risk_tier = 3 then 'watch' else 'healthy' end as verdict,
    risk_tier,
    -- The signals that triggered the verdict, each in words with its number (none for a healthy account).
    case when risk_tier is null then cast([] as varchar[]) else list_filter([
        case when has_an_escalation then escalated_cases || ' escalated support case'
            || case when escalated_cases > 1 then 's' else '' end || ' in the last '
            || {{ var('risk_escalation_window_days') }} || ' days' end,
        case when has_usage_dip then 'product usage ' || usage_change_pct || '% over the last 4 weeks vs the 4 before ('
            || recent_active_user_days || ' vs ' || prior_active_user_days || ' active-user days)' end,
        case when has_renewal_soon then 'renewal in ' || days_to_renewal || ' days (' || renewal_date || ')' end,
        case when has_no_contact then coalesce('no meaningful contact for ' || days_since_contact || ' days',
                                               'no meaningful contact on record') end
    ], lambda s: s is not null) end as triggering_signals,
    has_escalations,
    has_usage_drop,
    has_an_escalation,
    has_usage_dip,
    has_renewal_soon,
    has_no_contact,
    escalated_cases,
    escalated_case_ids,
    recent_active_user_days,
    prior_active_user_days,
    usage_change_pct,
    usage_change_z,
    usage_window_start,
    usage_window_end,
    renewal_date,
    renewal_date_source,
    days_to_renewal,
    renewal_deal_id,
    renewal_deal_stage,
    last_contact_at,
    last_contact_id,
    last_contact_kind,
    days_since_contact
from tiered
