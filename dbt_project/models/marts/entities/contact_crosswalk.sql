-- Every HubSpot contact record -> its golden contact id. Built from the staging table (not the clusters)
-- so a record the matcher lost shows up with a NULL golden id, which the golden gate rejects.
select
    'hubspot' as source_system,
    s.contact_id as source_record_id,
    c.golden_contact_id,
    c.cluster_size,
    c.employer_domain_count,
    c.golden_contact_id = 'gc-' || cast(s.contact_id as varchar) as is_anchor_record
from {{ ref('stg_hubspot__contacts') }} as s
left join {{ ref('int_entities__contact_clusters') }} as c on c.record_id = s.contact_id
