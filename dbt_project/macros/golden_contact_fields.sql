{#- The fields of a golden contact, in the order of dim_contacts' columns: what survivorship chooses per contact
    (int_entities__contact_golden_fields.field_name takes only these values; a data test checks it). -#}
{% macro golden_contact_fields() %}
    {{ return(['first_name', 'last_name', 'email', 'phone', 'mobile_phone', 'job_title', 'role_category',
               'seniority', 'company_name', 'website_domain', 'linkedin_url', 'street_address', 'city',
               'state_region', 'postal_code', 'country_code', 'lifecycle_stage', 'contact_owner']) }}
{% endmacro %}
