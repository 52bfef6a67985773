-- HubSpot contacts: latest version per Record ID, renamed, typed and normalized.
-- Incremental: each run stages again only the records with a row loaded since the last run (all their
-- versions compete, see the macro), so an hour costs what its changed records cost.
{{ config(materialized='incremental', unique_key='contact_id', incremental_strategy='delete+insert') }}
with source as (
    {{ versions_of_records_loaded_since_last_run(source('hubspot', 'contacts'), to_id('record_id')) }}
),

typed as (
    select
        {{ to_id('record_id') }} as contact_id,
        {{ to_utc_timestamp('last_modified_date') }} as last_modified_at,
        *
    from source
),

latest as (
    {{ dedupe_latest('typed', 'contact_id', 'last_modified_at desc nulls last, _loaded_at desc, _source_line desc') }}
),

with_country as (
    select
        *,
        {{ normalize_country('country_region') }} as _country_code
    from latest
)

select
    contact_id,
    {{ normalize_name('first_name') }} as first_name,
    {{ normalize_name('last_name') }} as last_name,
    {{ normalize_email('email') }} as email,
    {{ email_is_valid('email') }} as email_is_valid,
    {{ nullif_blank('email') }} as email_raw,
    {{ email_domain(normalize_email('email')) }} as email_domain,
    {{ normalize_phone('phone_number', '_country_code') }} as phone,
    {{ nullif_blank('phone_number') }} as phone_raw,
    {{ normalize_phone('mobile_phone_number', '_country_code') }} as mobile_phone,
    {{ nullif_blank('mobile_phone_number') }} as mobile_phone_raw,
    {{ normalize_text('job_title') }} as job_title,
    {{ job_title_role_category('job_title') }} as role_category,
    {{ job_title_seniority('job_title') }} as seniority,
    {{ normalize_text('company_name') }} as company_name,
    {{ nullif_blank('website_url') }} as website_url,
    {{ normalize_domain('website_url') }} as website_domain,
    {{ normalize_text('street_address') }} as street_address,
    {{ normalize_text('city') }} as city,
    {{ normalize_text('state_region') }} as state_region,
    {{ normalize_postal_code('postal_code', '_country_code') }} as postal_code,
    {{ nullif_blank('country_region') }} as country_raw,
    _country_code as country_code,
    {{ normalize_linkedin_url('linkedin_url') }} as linkedin_url,
    {{ to_utc_timestamp('create_date') }} as created_at,
    last_modified_at,
    {{ normalize_code('lifecycle_stage') }} as lifecycle_stage,
    {{ normalize_code('lead_status') }} as lead_status,
    {{ normalize_text('contact_owner') }} as contact_owner,
    {{ normalize_code('original_source') }} as original_source,
    {{ to_id_list('associated_company_ids') }} as associated_company_ids,
    {{ to_id('associated_company_id_primary') }} as primary_company_id,
    {{ to_boolean('unsubscribed_from_all_email') }} as is_unsubscribed,
    {{ to_string_list('human_verified_fields', lowercase=true) }} as human_verified_fields,
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at
from with_country
