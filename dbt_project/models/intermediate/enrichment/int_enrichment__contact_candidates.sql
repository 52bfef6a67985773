-- Every vendor value offered for a golden contact, normalized to the golden field's form, with its source,
-- time and confidence, and what happens to it:
--   candidate               -> competes in survivorship (below CRM values, above inferred ones)
--   review_low_confidence   -> confidence under var('er_enrichment_min_confidence'): enrichment review table
--   blocked_human_verified  -> a person verified that field in the CRM: never overwritten (kept for audit)
--   unmapped                -> value could not be normalized or the field is unknown (kept for audit)
-- Incremental: `inputs_hash` is a hash of everything a row is made of (the staged vendor row, the golden contact
-- its email belongs to and how many own it, whether a person verified that field of that contact); a run normalizes
-- again only the rows whose hash changed or that are new (delete+insert on enrichment_field_id), so an hour parses
-- the hour's new vendor values, not every phone again. Rows whose vendor row or email owner is gone are deleted:
-- the comparison with the previous rows is a full join, so such a row comes out of it as a tombstone (its id, every
-- other column NULL, `inputs_hash` NULL: a written row's hash never is), which delete+insert uses to delete the old
-- row and the post-hook deletes after the insert (DuckDB skips the row groups without a NULL hash). This replaces a
-- second pass over the vendor rows, the records and the clusters after the run (~1.2 s of CPU an hour at 1M).
-- A change of var('er_enrichment_min_confidence') or of the field map seed changes no hash: rebuild with
-- --full-refresh.
{{ config(
    materialized='incremental',
    unique_key='enrichment_field_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where inputs_hash is null"
) }}
with enrichment as (
    select * from {{ ref('stg_vendors__enrichment') }}
    where object_type = 'contact' and match_key is not null
),

records as (
    select r.record_id, r.email, c.golden_contact_id
    from {{ ref('int_entities__contact_records') }} as r
    inner join {{ ref('int_entities__contact_clusters') }} as c using (record_id)
    where r.email is not null
),

-- One golden contact per email (an email shared by two golden contacts is ambiguous: not applied). The distinct
-- (email, golden contact) pairs first, then one grouping: `count(distinct ...)` beside `min` made DuckDB group the
-- records three times and join two of the results (~0.5 s of CPU more at 1M).
email_owner as (
    select email, min(golden_contact_id) as golden_contact_id, count(golden_contact_id) as owners
    from (select distinct email, golden_contact_id from records) as owner_pairs
    group by email
),

inputs as (
    select
        e.enrichment_field_id,
        e.payload_id,
        e.vendor,
        e.field_name as vendor_field,
        e.value as raw_value,
        e.confidence,
        coalesce(e.as_of, e.received_at) as observed_at,
        o.golden_contact_id,
        o.owners,
        case e.field_name
            when 'job_title' then 'job_title'
            when 'phone' then 'phone'
            when 'seniority' then 'seniority'
            when 'linkedin_url' then 'linkedin_url'
            when 'city' then 'city'
            when 'country' then 'country_code'
        end as field_name
    from enrichment as e
    inner join email_owner as o on o.email = e.match_key
),

human_verified as (
    select distinct c.golden_contact_id, m.field_name
    from (
        select contact_id as record_id, unnest(human_verified_fields) as hubspot_property
        from {{ ref('stg_hubspot__contacts') }}
    ) as hv
    inner join {{ ref('er_hubspot_field_map') }} as m using (hubspot_property)
    inner join {{ ref('int_entities__contact_clusters') }} as c using (record_id)
),

-- `exists` (a mark join, built on the ~136k verified fields) rather than a left join: beside the full join below,
-- DuckDB built the left join's hash table on the 1.7M vendor rows instead (~0.5 s of CPU more at 1M).
hashed as (
    select
        i.*,
        hash(i.enrichment_field_id, i.payload_id, i.vendor, i.vendor_field, i.raw_value, i.confidence, i.observed_at,
             i.golden_contact_id, i.owners, i.field_name, i.is_human_verified) as inputs_hash
    from (
        select i.*, exists (
            select 1 from human_verified as hv
            where hv.golden_contact_id = i.golden_contact_id and hv.field_name = i.field_name
        ) as is_human_verified
        from inputs as i
    ) as i
),

changed as (
    -- `country_text`: the raw value of country rows alone, for the country lookup below. DuckDB evaluates that
    -- subquery once per distinct value it is given, ahead of the `case`: given every row's raw value (~600k distinct
    -- at 1M, phones and URLs included) it normalized each of them; given this, ~13 and NULL.
    -- Incremental: new rows, rows whose hash changed, and a tombstone for each previous row gone from `hashed`.
    {%- if is_incremental() and 'inputs_hash' in adapter.get_columns_in_relation(this) | map(attribute='name') %}
    select
        coalesce(h.enrichment_field_id, previous.enrichment_field_id) as enrichment_field_id,
        h.* exclude (enrichment_field_id),
        case when h.vendor_field = 'country' then h.raw_value end as country_text
    from hashed as h
    full join {{ this }} as previous on previous.enrichment_field_id = h.enrichment_field_id
    where previous.inputs_hash is distinct from h.inputs_hash
    {%- else %}
    select h.*, case when h.vendor_field = 'country' then h.raw_value end as country_text
    from hashed as h
    {%- endif %}
),

normalized as (
    select
        c.*,
        case c.vendor_field
            when 'job_title' then {{ normalize_text('c.raw_value') }}
            when 'phone' then {{ normalize_phone('c.raw_value', 'null') }}
            when 'seniority' then case lower(trim(c.raw_value))
                when 'executive' then 'c_level' when 'employee' then 'individual_contributor'
                when 'vp' then 'vp' when 'director' then 'director' when 'manager' then 'manager'
                when 'intern' then 'intern' end
            when 'linkedin_url' then {{ normalize_linkedin_url('c.raw_value') }}
            when 'city' then {{ normalize_text('c.raw_value') }}
            when 'country' then {{ normalize_country('c.country_text') }}
        end as value
    from changed as c
)

select
    n.enrichment_field_id,
    n.payload_id,
    n.golden_contact_id,
    n.field_name,
    n.value,
    n.raw_value,
    n.vendor,
    n.vendor_field,
    n.confidence,
    n.observed_at,
    case
        when n.field_name is null or n.value is null then 'unmapped'
        when n.owners > 1 then 'review_ambiguous_email'
        when n.is_human_verified then 'blocked_human_verified'
        when n.confidence is null or n.confidence < {{ var('er_enrichment_min_confidence') }} then 'review_low_confidence'
        else 'candidate'
    end as disposition,
    n.inputs_hash
from normalized as n
