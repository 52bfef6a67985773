-- HubSpot companies: latest version per Record ID, renamed, typed and normalized.
-- Incremental: each run stages again only the records with a row loaded since the last run (all their
-- versions compete, see the macro), so an hour costs what its changed records cost.
{{ config(materialized='incremental', unique_key='company_id', incremental_strategy='delete+insert') }}
with source as (
    {{ versions_of_records_loaded_since_last_run(source('hubspot', 'companies'), to_id('record_id')) }}
),

typed as (
    select
        {{ to_id('record_id') }} as company_id,
        {{ to_utc_timestamp('last_modified_date') }} as last_modified_at,
        *
    from source
),

latest as (
    {{ dedupe_latest('typed', 'company_id', 'last_modified_at desc nulls last, _loaded_at desc, _source_line desc') }}
),

with_country as (
    select *, {{ normalize_country('country_region') }} as _country_code
    from latest
)

select
    company_id,
    {{ normalize_name('company_name') }} as company_name,
    -- the CRM's domain property first, the website as fallback
    coalesce({{ normalize_domain('company_domain_name') }}, {{ normalize_domain('website_url') }}) as domain,
    {{ nullif_blank('website_url') }} as website_url,
    {{ normalize_domain('website_url') }} as website_domain,
    {{ normalize_code('industry') }} as industry,
    {{ to_integer('number_of_employees') }} as number_of_employees,
    {{ to_amount('annual_revenue') }} as annual_revenue,
    {{ normalize_phone('phone_number', '_country_code') }} as phone,
    {{ nullif_blank('phone_number') }} as phone_raw,
    {{ normalize_text('street_address') }} as street_address,
    {{ normalize_text('city') }} as city,
    {{ normalize_text('state_region') }} as state_region,
    {{ normalize_postal_code('postal_code', '_country_code') }} as postal_code,
    {{ nullif_blank('country_region') }} as country_raw,
    _country_code as country_code,
    {{ to_utc_timestamp('create_date') }} as created_at,
    last_modified_at,
    {{ normalize_text('company_owner') }} as company_owner,
    {{ normalize_code('lifecycle_stage') }} as lifecycle_stage,
    {{ normalize_code('type') }} as company_type,
    {{ to_id('parent_company_id') }} as parent_company_id,
    {{ to_string_list('technologies', lowercase=true) }} as technologies,
    {{ to_date('renewal_date') }} as renewal_date,
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at
from with_country
