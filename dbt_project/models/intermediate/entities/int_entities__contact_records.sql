-- HubSpot contact records in the shape the matcher reads (staging column names, record_id = Record ID), with
-- the phone of the record's company (its switchboard: a contact listing it gave no number of their own).
-- Incremental: every row is computed each run (one join), but only the records whose row differs from the previous
-- run's are written (delete+insert on record_id; macros/rows_changed_since_last_run.sql): an hour changes a few
-- dozen of 100k records, and writing all of them was most of this model's time. Records that left the export are
-- deleted after.
-- `_written_at` stamps the rows each run writes (left out of the comparison): int_entities__contact_record_changes
-- fingerprints only the rows written since its own last change, not every record each hour.
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
){%- if is_incremental() %},

-- The previous rows without their stamp. A table from before the stamp compares with nothing: every row is written
-- once, stamped, so that no row is left without one.
previous_rows as (
    {%- if '_written_at' in adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
    select * exclude (_written_at) from {{ this }}
    {%- else %}
    select * from rows where false
    {%- endif %}
)
{%- endif %}

{{ rows_changed_since_last_run(
    'rows', 'record_id', previous='previous_rows' if is_incremental() else none,
    stamp=run_started_stamp() ~ ' as _written_at'
) }}
