-- One row per golden contact with what the planner needs to act on it: how to address it in the CRM (its
-- record ids), who owns it, where it is, every email its records carry (for suppression), whether the CRM
-- already has it unsubscribed, its account, whether that account is a customer, and its open deals.
-- Incremental: every row is computed each run, only the contacts whose row changed are written (delete+insert on
-- golden_contact_id; macros/rows_changed_since_last_run.sql). Contacts no longer golden are deleted after.
{{ config(
    materialized='incremental',
    unique_key='golden_contact_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where golden_contact_id not in
               (select golden_contact_id from {{ ref('dim_contacts') }})"
) }}
with member_rows as (
    select x.golden_contact_id, x.source_record_id, s.email, coalesce(s.is_unsubscribed, false) as is_unsubscribed
    from {{ ref('contact_crosswalk') }} as x
    inner join {{ ref('stg_hubspot__contacts') }} as s on s.contact_id = x.source_record_id
    where x.golden_contact_id is not null
),

member_counts as (
    -- Most golden contacts have one CRM record (~90% at 1M): their lists are that record's values, so only the
    -- contacts of several records go through the ordered list aggregates (a grouping with min and a count is
    -- cheaper than one with lists; at one row per group min is the value).
    select
        golden_contact_id,
        count(*) as record_count,
        min(source_record_id) as source_record_id,
        min(email) as email,
        bool_or(is_unsubscribed) as is_crm_unsubscribed
    from member_rows
    group by golden_contact_id
),

members as (
    select
        golden_contact_id,
        [source_record_id] as crm_record_ids,
        -- as list_distinct below: no email gives [], not [NULL]
        case when email is null then [] else [email] end as emails,
        is_crm_unsubscribed
    from member_counts
    where record_count = 1
    union all
    select
        golden_contact_id,
        list(source_record_id order by source_record_id) as crm_record_ids,
        -- list_distinct drops NULLs: a contact whose records carry no email gets [] here, where a filtered
        -- `list(distinct ...)` gave NULL, and `rows` turns NULL into [] anyway. One grouping, not a distinct one.
        list_sort(list_distinct(list(email))) as emails,
        bool_or(is_unsubscribed) as is_crm_unsubscribed
    from member_rows
    semi join (select golden_contact_id from member_counts where record_count > 1) using (golden_contact_id)
    group by golden_contact_id
),

deal_contacts as (
    select d.deal_id, d.deal_stage, unnest(d.associated_contact_ids) as contact_id
    from {{ ref('stg_hubspot__deals') }} as d
),

open_deals as (
    select x.golden_contact_id, count(distinct dc.deal_id) as open_deal_count
    from deal_contacts as dc
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = dc.contact_id
    where dc.deal_stage not in ('closed won', 'closed lost')
    group by x.golden_contact_id
),

customer_accounts as (
    -- An account is a customer when one of its contacts is a CRM customer or it has a closed-won deal.
    select distinct golden_account_id
    from {{ ref('dim_contacts') }}
    where lifecycle_stage = 'customer' and golden_account_id is not null
    union
    select distinct c.golden_account_id
    from deal_contacts as dc
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = dc.contact_id
    inner join {{ ref('dim_contacts') }} as c on c.golden_contact_id = x.golden_contact_id
    where dc.deal_stage = 'closed won' and c.golden_account_id is not null
),

rows as (
    select
        c.golden_contact_id,
        trim(concat_ws(' ', c.first_name, c.last_name)) as contact_name,
        c.first_name,
        c.email,
        coalesce(m.emails, []) as emails,
        m.crm_record_ids,
        c.contact_owner,
        c.country_code,
        c.lifecycle_stage,
        c.company_name,
        c.golden_account_id,
        a.account_domain,
        a.industry,
        coalesce(m.is_crm_unsubscribed, false) as is_crm_unsubscribed,
        ca.golden_account_id is not null as is_customer_account,
        coalesce(od.open_deal_count, 0) as open_deal_count
    from {{ ref('dim_contacts') }} as c
    left join members as m using (golden_contact_id)
    left join {{ ref('dim_accounts') }} as a using (golden_account_id)
    left join customer_accounts as ca using (golden_account_id)
    left join open_deals as od using (golden_contact_id)
)

{{ rows_changed_since_last_run('rows', 'golden_contact_id') }}
