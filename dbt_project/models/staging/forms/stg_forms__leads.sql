-- Lead intake submissions: one row per Submission ID (latest load wins), normalized like contacts.
-- Incremental: submissions are append-only (a later load of the same Submission ID wins), so each run stages only
-- rows loaded since the last.
{{ config(materialized='incremental', unique_key='submission_id', incremental_strategy='delete+insert') }}
with source as (
    select * from {{ source('forms', 'leads') }}
    {{ loaded_since_last_run() }}
),

typed as (
    -- Submission IDs come from several intake tools and are not promised to be numeric: kept as text.
    select nullif(trim(submission_id), '') as _submission_id, *
    from source
),

latest as (
    {{ dedupe_latest('typed', '_submission_id', '_loaded_at desc, _source_line desc') }}
),

with_country as (
    select *, {{ normalize_country('country_region') }} as _country_code
    from latest
)

select
    _submission_id as submission_id,
    {{ to_utc_timestamp('submitted_at') }} as submitted_at,
    {{ normalize_code('lead_source') }} as lead_source,
    {{ normalize_text('campaign') }} as campaign,
    {{ normalize_name('first_name') }} as first_name,
    {{ normalize_name('last_name') }} as last_name,
    {{ normalize_email('email') }} as email,
    {{ email_is_valid('email') }} as email_is_valid,
    {{ nullif_blank('email') }} as email_raw,
    {{ email_domain(normalize_email('email')) }} as email_domain,
    {{ normalize_phone('phone_number', '_country_code') }} as phone,
    {{ nullif_blank('phone_number') }} as phone_raw,
    {{ normalize_text('job_title') }} as job_title,
    {{ job_title_role_category('job_title') }} as role_category,
    {{ job_title_seniority('job_title') }} as seniority,
    {{ normalize_text('company_name') }} as company_name,
    {{ nullif_blank('website_url') }} as website_url,
    {{ normalize_domain('website_url') }} as website_domain,
    {{ nullif_blank('country_region') }} as country_raw,
    _country_code as country_code,
    {{ normalize_text('state_region') }} as state_region,
    {{ normalize_text('city') }} as city,
    {{ to_integer('number_of_employees') }} as number_of_employees,
    {{ normalize_code('industry') }} as industry,
    {{ normalize_text('message') }} as message,
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at
from with_country
