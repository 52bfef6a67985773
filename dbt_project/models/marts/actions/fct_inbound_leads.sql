-- Accepted inbound leads that are not yet contacts in the CRM (no golden contact with their email): they
-- have no owner and need one.
select
    l.submission_id,
    l.submitted_at,
    l.lead_source,
    trim(concat_ws(' ', l.first_name, l.last_name)) as lead_name,
    l.email,
    l.company_name,
    l.company_domain,
    l.country_code,
    l.industry,
    l.mapped_account_id
from {{ ref('int_leads__classified') }} as l
left join {{ ref('dim_contacts') }} as c on c.email = l.email
where l.lead_status = 'accepted' and l.email is not null and c.golden_contact_id is null
