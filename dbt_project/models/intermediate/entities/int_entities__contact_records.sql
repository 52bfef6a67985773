-- HubSpot contact records in the shape the matcher reads (staging column names, record_id = Record ID).
select
    contact_id as record_id,
    first_name,
    last_name,
    email,
    phone,
    mobile_phone,
    linkedin_url,
    company_name,
    website_domain,
    street_address,
    city,
    postal_code,
    country_code,
    primary_company_id,
    created_at,
    last_modified_at
from {{ ref('stg_hubspot__contacts') }}
