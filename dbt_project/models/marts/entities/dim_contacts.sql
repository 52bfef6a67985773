-- Golden contacts: one row per contact cluster, each field chosen by survivorship
-- (human-verified > CRM user-entered > enrichment by confidence > inferred; most recent breaks ties),
-- with the provenance of every field (source class, source, source record, time, confidence) in `provenance`
-- (both from int_entities__contact_golden_values, which rebuilds only the contacts whose fields changed).
-- Junk and test records (matching.junk; never merged, so each is its own golden contact) carry is_junk and
-- their junk_reasons: scoring, tiers and every action leave them out.
-- Incremental: only the contacts whose row differs from the previous run's are written (delete+insert on
-- golden_contact_id; macros/rows_changed_since_last_run.sql): rewriting every contact's provenance JSON each hour was
-- most of this model's time. Contacts merged away are deleted after.
-- What is compared is a narrow row: the golden values' `fields_hash` (kept here as the last column) stands for the
-- ~40 surviving fields and the provenance JSON, which are a function of the golden fields it hashes (the golden values
-- model rebuilds a contact's row exactly when that hash changes); the rest are the joins that may change for any
-- contact (members, junk flags, account). The wide columns are read only for the contacts written: comparing every
-- contact's provenance JSON (~3 KB a contact) was most of an hour's cost at 1M contacts.
-- `provenance` is stored with zstd (macros/column_compression.sql): every contact's JSON (2.9 GB at 1M contacts, all
-- distinct) is written in about half the CPU and a fifth of the room of DuckDB's default (a dictionary with FSST).
{{ config(
    materialized='incremental',
    unique_key='golden_contact_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    column_compression={'provenance': 'zstd'},
    post_hook="delete from {{ this }} where golden_contact_id not in
               (select golden_contact_id from {{ ref('int_entities__contact_golden_values') }})"
) }}
with members as (
    select
        c.golden_contact_id,
        count(*) as source_record_count,
        min(c.record_id) as anchor_record_id,
        max(c.employer_domain_count) as employer_domain_count,
        max(c.unbridged_domain_count) as unbridged_domain_count,
        coalesce(bool_or(j.is_junk), false) as is_junk,
        -- Only non-empty lists gathered: all but a few records' lists are empty (`[]`) and add nothing to the
        -- flattened list, but gathering ~1M of them was half of this group-by. A contact with none gathered gets
        -- `[]`, as flattening its empty (or NULL) lists gave.
        coalesce(list_sort(list_distinct(flatten(
            list(j.junk_reasons) filter (where len(j.junk_reasons) > 0)
        ))), []) as junk_reasons
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

narrow as (
    select
        p.golden_contact_id,
        coalesce(by_id.golden_account_id, by_domain.golden_account_id) as golden_account_id,
        m.source_record_count,
        m.anchor_record_id,
        m.employer_domain_count,
        m.unbridged_domain_count,
        m.is_junk,
        m.junk_reasons,
        p.fields_hash
    from {{ ref('int_entities__contact_golden_values') }} as p
    inner join members as m using (golden_contact_id)
    left join anchor_company as a using (golden_contact_id)
    left join accounts as by_id on by_id.record_id = a.primary_company_id
    left join domain_accounts as by_domain on by_domain.account_domain = p.website_domain
),
{%- if is_incremental() %}

previous_narrow as (
    select golden_contact_id, golden_account_id, source_record_count, anchor_record_id, employer_domain_count,
        unbridged_domain_count, is_junk, junk_reasons,
        {#- Before upgrading the table has no fields_hash: every contact differs once. #}
        {{ 'fields_hash' if 'fields_hash' in adapter.get_columns_in_relation(this) | map(attribute='name') | list
           else 'null::ubigint as fields_hash' }}
    from {{ this }}
),
{%- endif %}

changed as (
    {{ rows_changed_since_last_run('narrow', 'golden_contact_id', previous='previous_narrow') }}
)

-- The golden values read a second time, for the changed contacts alone (read once into a shared CTE, every
-- contact's provenance would be read and held).
select p.* exclude (fields_hash), c.* exclude (golden_contact_id)
from changed as c
inner join {{ ref('int_entities__contact_golden_values') }} as p using (golden_contact_id)
