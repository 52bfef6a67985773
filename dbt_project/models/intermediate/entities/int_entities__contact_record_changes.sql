{{ config(materialized='incremental', unique_key='record_id', incremental_strategy='delete+insert') }}

-- The matcher's memory of every contact record it has resolved: a fingerprint of the fields matching reads
-- and when that fingerprint last changed (or the record left the CRM export). The pair and cluster models
-- re-resolve only records whose change is newer than their own last run; everything else keeps its result.
-- Incremental: only the records' rows written since this model last recorded a change are fingerprinted and compared
-- (`_written_at`, the start of the run that wrote the row, against the latest `changed_at`): every other row is as it
-- was when a run of this model, which always follows the records', last compared it. Fingerprinting every record
-- (the md5 of its fields as text) was this model's whole cost each hour (~1.8 s of CPU at 1M records). Records gone
-- are found by id among all the records, as before.
{%- set records = ref('int_entities__contact_records') %}
{%- set follows_stamps = is_incremental()
    and '_written_at' in adapter.get_columns_in_relation(records) | map(attribute='name') | list %}
with current_records as (
    select
        record_id,
        md5(cast(row(
            first_name, last_name, email, phone, mobile_phone, linkedin_url, company_name, job_title,
            website_domain, street_address, city, postal_code, country_code, company_phone
        ) as varchar)) as record_fingerprint
    from {{ records }}
    {%- if follows_stamps %}
    -- NULL (a row from before the stamp) is compared too; `changed_at` is a UTC instant, the stamp a naive UTC time.
    where _written_at is null
        or _written_at > (select coalesce(timezone('UTC', max(changed_at)), '-infinity'::timestamp) from {{ this }})
    {%- endif %}
)

select c.record_id, c.record_fingerprint, false as is_removed, current_timestamp as changed_at
from current_records as c
{% if is_incremental() %}
left join {{ this }} as p on p.record_id = c.record_id
where p.record_id is null or p.record_fingerprint <> c.record_fingerprint or p.is_removed

union all

select p.record_id, p.record_fingerprint, true as is_removed, current_timestamp as changed_at
from {{ this }} as p
anti join {{ records }} as c on c.record_id = p.record_id
where not p.is_removed
{% endif %}
