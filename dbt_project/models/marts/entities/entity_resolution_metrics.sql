-- Entity-resolution health (workflow 3): duplicate rate, auto-merges, pending proposals, accounts.
with contacts as (
    select count(*) as contact_records, count(distinct golden_contact_id) as golden_contacts,
           count(*) filter (where cluster_size > 1) as records_in_merged_clusters
    from {{ ref('contact_crosswalk') }}
),

pairs as (
    select count(*) filter (where decision = 'auto_merge') as auto_merge_pairs,
           count(*) filter (where decision = 'review') as review_pairs,
           count(*) as candidate_pairs
    from {{ ref('int_entities__contact_pairs') }}
),

proposals as (
    select count(*) as pending_merge_proposals from {{ ref('merge_proposals') }} where status = 'pending'
),

accounts as (
    select count(*) as company_records, count(distinct golden_account_id) as golden_accounts
    from {{ ref('account_crosswalk') }}
)

select
    contacts.*,
    round(1 - golden_contacts / nullif(contact_records, 0), 4) as contact_duplicate_rate,
    pairs.*,
    proposals.*,
    accounts.*,
    round(1 - golden_accounts / nullif(company_records, 0), 4) as account_duplicate_rate
from contacts, pairs, proposals, accounts
