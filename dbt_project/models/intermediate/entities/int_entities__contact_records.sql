-- HubSpot contact records in the shape the matcher reads (staging column names, record_id = Record ID), with
-- the phone of the record's company (its switchboard: a contact listing it gave no number of their own).
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
