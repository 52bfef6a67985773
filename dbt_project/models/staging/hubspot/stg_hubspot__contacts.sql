-- HubSpot contacts: latest version per Record ID, renamed, typed and normalized.
-- Incremental: each run stages again only the records with a row loaded since the last run (all their
-- versions compete, see the macro), so an hour costs what its changed records cost.
{{ config(materialized='incremental', unique_key='contact_id', incremental_strategy='delete+insert') }}
-- The id is unique in nearly every row (a record repeats when it is exported again, ~0.03% at 1M contacts): only the
-- rows of repeated ids are ranked (dedupe_latest_mostly_unique, which reads `typed` three times, hence the CTEs
-- `as not materialized`). The country, its postcode digits and the job title's classes are looked up once per
-- distinct value (a few hundred) and joined: as correlated subqueries DuckDB copied every contact row for each.
with source as not materialized (
    {{ versions_of_records_loaded_since_last_run(source('hubspot', 'contacts'), to_id('record_id')) }}
),

typed as not materialized (
    select
        {{ to_id('record_id') }} as contact_id,
        {{ to_utc_timestamp('last_modified_date') }} as last_modified_at,
        *
    from source
),

latest as (
    {{ dedupe_latest_mostly_unique('typed', 'contact_id', 'last_modified_at desc nulls last, _loaded_at desc, _source_line desc') }}
),

countries as (
    select
        country_region as _country_region_key,
        {{ normalize_country('country_region') }} as _country_code
    from (select distinct country_region from source) as distinct_countries
),

country_postal_codes as (
    select
        _country_region_key,
        _country_code,
        {{ postal_code_digits('_country_code') }} as _postal_code_digits
    from countries
),

job_titles as (
    select
        job_title as _job_title_key,
        {{ job_title_role_category('job_title') }} as _role_category,
        {{ job_title_seniority('job_title') }} as _seniority
    from (select distinct job_title from source) as distinct_job_titles
),

with_country as (
    select
        latest.*,
        country_postal_codes._country_code,
        country_postal_codes._postal_code_digits,
        job_titles._role_category,
        job_titles._seniority
    from latest
    left join country_postal_codes on latest.country_region is not distinct from country_postal_codes._country_region_key
    left join job_titles on latest.job_title is not distinct from job_titles._job_title_key
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
    _role_category as role_category,
    _seniority as seniority,
    {{ normalize_text('company_name') }} as company_name,
    {{ nullif_blank('website_url') }} as website_url,
    {{ normalize_domain('website_url') }} as website_domain,
    {{ normalize_text('street_address') }} as street_address,
    {{ normalize_text('city') }} as city,
    {{ normalize_text('state_region') }} as state_region,
    {{ normalize_postal_code_of_digits('postal_code', '_postal_code_digits') }} as postal_code,
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
