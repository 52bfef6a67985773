-- Every reason the warehouse sees to put an email or a domain on the suppression list, with the row that
-- says so: unsubscribe clicks, spam reports and hard bounces in the email events, contacts the CRM has
-- unsubscribed (do not contact), and customer accounts' domains (prospecting only). Reply texts asking to be
-- removed are classified by the reply model and added by the planner. One row per value, reason and scope
-- (the earliest evidence).
with email_signals as (
    select
        'email' as kind,
        e.email as value,
        case e.event_type
            when 'unsubscribe' then 'unsubscribe'
            when 'spam_report' then 'spam_report'
            else 'hard_bounce'
        end as reason,
        'all' as scope,
        'staging.stg_email__events' as source_table,
        e.event_id as source_key,
        'event_type' as source_field,
        e.event_type || coalesce(':' || e.bounce_type, '') as source_value,
        e.occurred_at as observed_at
    from {{ ref('stg_email__events') }} as e
    where e.email is not null
      and (e.event_type in ('unsubscribe', 'spam_report') or (e.event_type = 'bounce' and e.bounce_type = 'hard'))
),

crm_unsubscribed as (
    select
        'email' as kind,
        s.email as value,
        'do_not_contact' as reason,
        'all' as scope,
        'staging.stg_hubspot__contacts' as source_table,
        cast(s.contact_id as varchar) as source_key,
        'is_unsubscribed' as source_field,
        'true' as source_value,
        s.last_modified_at as observed_at
    from {{ ref('stg_hubspot__contacts') }} as s
    where s.is_unsubscribed and s.email is not null
),

customer_domains as (
    select
        'domain' as kind,
        ac.account_domain as value,
        'customer' as reason,
        'prospecting' as scope,
        'marts.fct_action_contacts' as source_table,
        ac.golden_account_id as source_key,
        'is_customer_account' as source_field,
        'true' as source_value,
        cast(null as timestamp with time zone) as observed_at
    from {{ ref('fct_action_contacts') }} as ac
    where ac.is_customer_account and ac.account_domain is not null
),

signals as (
    select * from email_signals
    union all
    select * from crm_unsubscribed
    union all
    select * from customer_domains
),

-- The earliest evidence of each signal, all four source columns from that one row; ties on the time are broken
-- by table and key, so every build (hourly or from scratch) names the same evidence.
earliest as (
    select
        kind, value, reason, scope,
        arg_min(
            struct_pack(source_table, source_key, source_field, source_value),
            struct_pack(t := coalesce(observed_at, '9999-12-31'::timestamptz), source_table, source_key)
        ) as evidence,
        min(observed_at) as observed_at
    from signals
    group by kind, value, reason, scope
)

select
    kind, value, reason, scope,
    evidence.source_table, evidence.source_key, evidence.source_field, evidence.source_value,
    observed_at
from earliest
