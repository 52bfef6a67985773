{{ config(materialized='incremental', unique_key='record_id', incremental_strategy='delete+insert') }}

-- The matcher's memory of every contact record it has resolved: a fingerprint of the fields matching reads
-- and when that fingerprint last changed (or the record left the CRM export). The pair and cluster models
-- re-resolve only records whose change is newer than their own last run; everything else keeps its result.
with current_records as (
    select
        record_id,
        md5(cast(row(
            first_name, last_name, email, phone, mobile_phone, linkedin_url, company_name, job_title,
            website_domain, street_address, city, postal_code, country_code, company_phone
        ) as varchar)) as record_fingerprint
    from {{ ref('int_entities__contact_records') }}
)

select c.record_id, c.record_fingerprint, false as is_removed, current_timestamp as changed_at
from current_records as c
{% if is_incremental() %}
left join {{ this }} as p on p.record_id = c.record_id
where p.record_id is null or p.record_fingerprint <> c.record_fingerprint or p.is_removed

union all

select p.record_id, p.record_fingerprint, true as is_removed, current_timestamp as changed_at
from {{ this }} as p
anti join current_records as c on c.record_id = p.record_id
where not p.is_removed
{% endif %}
