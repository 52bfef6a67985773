-- Entity-resolution health (workflow 3): duplicate rate, auto-merges, pending proposals, junk, accounts, and the
-- matcher's learned duplicate rate with where it came from (estimated from the data, or the documented prior
-- when the data could not identify it), plus the parameters the data could not identify.
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

junk as (
    select count(*) filter (where is_junk) as junk_contacts from {{ ref('dim_contacts') }}
),

parameters as (
    select
        duplicate_rate as estimated_duplicate_rate,
        duplicate_rate_source,
        unidentified_parameters,
        namesake_rate
    from {{ ref('int_entities__contact_match_parameters') }}
    order by parameters_version desc
    limit 1
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
    round(pending_merge_proposals / nullif(contact_records, 0), 4) as merge_proposals_per_contact,
    junk.*,
    parameters.*,
    accounts.*,
    round(1 - golden_accounts / nullif(company_records, 0), 4) as account_duplicate_rate
from contacts, pairs, proposals, junk, accounts
left join parameters on true
