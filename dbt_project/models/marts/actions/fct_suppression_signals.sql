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
)

select
    kind, value, reason, scope,
    arg_min(source_table, coalesce(observed_at, '9999-12-31'::timestamptz)) as source_table,
    arg_min(source_key, coalesce(observed_at, '9999-12-31'::timestamptz)) as source_key,
    arg_min(source_field, coalesce(observed_at, '9999-12-31'::timestamptz)) as source_field,
    arg_min(source_value, coalesce(observed_at, '9999-12-31'::timestamptz)) as source_value,
    min(observed_at) as observed_at
from signals
group by kind, value, reason, scope
