-- Golden contacts: one row per contact cluster, each field chosen by survivorship
-- (human-verified > CRM user-entered > enrichment by confidence > inferred; most recent breaks ties),
-- with the provenance of every field (source class, source, source record, time, confidence) in `provenance`
-- (both from int_entities__contact_golden_values, which rebuilds only the contacts whose fields changed).
-- Junk and test records (matching.junk; never merged, so each is its own golden contact) carry is_junk and
-- their junk_reasons: scoring, tiers and every action leave them out.
-- Incremental: every row is computed each run (cheap joins), but only the contacts whose row differs from the
-- previous run's are written (delete+insert on golden_contact_id; macros/rows_changed_since_last_run.sql): rewriting
-- every contact's provenance JSON each hour was most of this model's time. Contacts merged away are deleted after.
{{ config(
    materialized='incremental',
    unique_key='golden_contact_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where golden_contact_id not in
               (select golden_contact_id from {{ ref('int_entities__contact_golden_values') }})"
) }}
with pivoted as (
    select * exclude (fields_hash) from {{ ref('int_entities__contact_golden_values') }}
),

members as (
    select
        c.golden_contact_id,
        count(*) as source_record_count,
        min(c.record_id) as anchor_record_id,
        max(c.employer_domain_count) as employer_domain_count,
        max(c.unbridged_domain_count) as unbridged_domain_count,
        coalesce(bool_or(j.is_junk), false) as is_junk,
        list_sort(list_distinct(flatten(list(j.junk_reasons)))) as junk_reasons
    from {{ ref('int_entities__contact_clusters') }} as c
    left join {{ ref('int_entities__contact_junk') }} as j using (record_id)
    group by c.golden_contact_id
),

anchor_company as (
    select m.golden_contact_id, r.primary_company_id
    from members as m
    inner join {{ ref('int_entities__contact_records') }} as r on r.record_id = m.anchor_record_id
),

accounts as (
    select record_id, golden_account_id, account_domain from {{ ref('int_entities__company_records') }}
),

domain_accounts as (
    select account_domain, min(golden_account_id) as golden_account_id
    from accounts where account_domain is not null group by account_domain
),

rows as (
    select
        p.*,
        coalesce(by_id.golden_account_id, by_domain.golden_account_id) as golden_account_id,
        m.source_record_count,
        m.anchor_record_id,
        m.employer_domain_count,
        m.unbridged_domain_count,
        m.is_junk,
        m.junk_reasons
    from pivoted as p
    inner join members as m using (golden_contact_id)
    left join anchor_company as a using (golden_contact_id)
    left join accounts as by_id on by_id.record_id = a.primary_company_id
    left join domain_accounts as by_domain on by_domain.account_domain = p.website_domain
)

{{ rows_changed_since_last_run('rows', 'golden_contact_id') }}
