-- HubSpot contact records in the shape the matcher reads (staging column names, record_id = Record ID), with
-- the phone of the record's company (its switchboard: a contact listing it gave no number of their own).
-- Incremental: every row is computed each run (one join), but only the records whose row differs from the previous
-- run's are written (delete+insert on record_id; macros/rows_changed_since_last_run.sql): an hour changes a few
-- dozen of 100k records, and writing all of them was most of this model's time. Records that left the export are
-- deleted after.
{{ config(
    materialized='incremental',
    unique_key='record_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where record_id not in
               (select contact_id from {{ ref('stg_hubspot__contacts') }})"
) }}
with rows as (
    select
        s.contact_id as record_id,
        s.first_name,
        s.last_name,
        s.email,
        s.phone,
        s.mobile_phone,
        s.linkedin_url,
        s.company_name,
        s.job_title,
        s.website_domain,
        s.street_address,
        s.city,
        s.postal_code,
        s.country_code,
        c.phone as company_phone,
        s.primary_company_id,
        s.created_at,
        s.last_modified_at
    from {{ ref('stg_hubspot__contacts') }} as s
    left join {{ ref('stg_hubspot__companies') }} as c on c.company_id = s.primary_company_id
)

{{ rows_changed_since_last_run('rows', 'record_id') }}
