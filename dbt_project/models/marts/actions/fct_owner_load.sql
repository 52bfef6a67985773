-- Open work per owner: open deals they own and golden contacts they own (what round-robin routing weighs).
with deals as (
    select deal_owner as owner, count(*) as open_deals
    from {{ ref('stg_hubspot__deals') }}
    where deal_stage not in ('closed won', 'closed lost') and deal_owner is not null
    group by deal_owner
),

contacts as (
    select contact_owner as owner, count(*) as owned_contacts
    from {{ ref('dim_contacts') }}
    where contact_owner is not null
    group by contact_owner
)

select
    owner,
    coalesce(d.open_deals, 0) as open_deals,
    coalesce(c.owned_contacts, 0) as owned_contacts
from deals as d
full outer join contacts as c using (owner)
