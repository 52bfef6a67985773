-- Candidate values per golden contact and field, with their survivorship source class and provenance:
-- CRM values (human_verified when the record lists the field as verified, else crm_user_entered; role and
-- seniority derived from the title are inferred) and vendor values that passed the enrichment guards.
with records as (
    select
        s.contact_id as record_id,
        c.golden_contact_id,
        coalesce(s.last_modified_at, s.created_at) as observed_at,
        s.first_name, s.last_name, s.email, s.phone, s.mobile_phone, s.job_title, s.role_category,
        s.seniority, s.company_name, s.website_domain, s.linkedin_url, s.street_address, s.city,
        s.state_region, s.postal_code, s.country_code, s.lifecycle_stage, s.contact_owner
    from {{ ref('stg_hubspot__contacts') }} as s
    inner join {{ ref('int_entities__contact_clusters') }} as c on c.record_id = s.contact_id
),

crm_values as (
    unpivot records
    on first_name, last_name, email, phone, mobile_phone, job_title, role_category, seniority, company_name,
       website_domain, linkedin_url, street_address, city, state_region, postal_code, country_code,
       lifecycle_stage, contact_owner
    into name field_name value value
),

human_verified as (
    select distinct hv.record_id, m.field_name
    from (
        select contact_id as record_id, unnest(human_verified_fields) as hubspot_property
        from {{ ref('stg_hubspot__contacts') }}
    ) as hv
    inner join {{ ref('er_hubspot_field_map') }} as m using (hubspot_property)
)

select
    v.golden_contact_id as entity_id,
    v.field_name,
    v.value,
    case
        when hv.field_name is not null then 'human_verified'
        -- The staging rules derive these from the job title: the pipeline inferred them.
        when v.field_name in ('role_category', 'seniority') then 'inferred'
        else 'crm_user_entered'
    end as source_class,
    'hubspot' as source_name,
    cast(v.record_id as varchar) as source_record_id,
    v.observed_at,
    cast(null as double) as confidence
from crm_values as v
left join human_verified as hv on hv.record_id = v.record_id and hv.field_name = v.field_name

union all

select
    golden_contact_id as entity_id,
    field_name,
    value,
    'enrichment' as source_class,
    vendor as source_name,
    enrichment_field_id as source_record_id,
    observed_at,
    confidence
from {{ ref('int_enrichment__contact_candidates') }}
where disposition = 'candidate'
