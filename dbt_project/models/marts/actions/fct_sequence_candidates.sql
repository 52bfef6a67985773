-- Sequence selection (W5): prospects (golden contacts at non-customer accounts, with an email) and the buying
-- signals of their last 30 days, each with its number — the planner matches them to the policy's sequence
-- catalogue. The latest tool install of the account's domain is named (its signal id is the evidence row).
with tool_installs as (
    select domain,
           arg_max(signal_id, (observed_at, signal_id)) filter (where observed_at is not null) as signal_id,
           arg_max(detail, (observed_at, signal_id)) filter (where observed_at is not null) as detail,
           max(observed_at) as observed_at
    from {{ ref('stg_signals__signals') }}
    where signal_type = 'tool_install'
    group by domain
)

select
    c.golden_contact_id,
    c.account_domain,
    f.features_as_of,
    coalesce(f.count_tool_install_signal_30d, 0) as tool_installs_30d,
    t.signal_id as tool_install_signal_id,
    t.detail as tool_install_detail,
    coalesce(f.count_hiring_signal_30d, 0) as hiring_signals_30d,
    coalesce(f.count_demo_request_30d, 0) as demo_requests_30d,
    coalesce(f.count_pricing_visit_30d, 0) as pricing_visits_30d,
    coalesce(f.count_product_event_30d, 0) as product_events_30d
from {{ ref('fct_action_contacts') }} as c
inner join {{ ref('fct_lead_features') }} as f on f.contact_id = c.golden_contact_id
left join tool_installs as t on t.domain = c.account_domain
where not c.is_customer_account and c.email is not null and not c.is_crm_unsubscribed
    and c.open_deal_count = 0
    and (coalesce(f.count_tool_install_signal_30d, 0) + coalesce(f.count_hiring_signal_30d, 0)
         + coalesce(f.count_demo_request_30d, 0) + coalesce(f.count_pricing_visit_30d, 0)
         + coalesce(f.count_product_event_30d, 0)) > 0
