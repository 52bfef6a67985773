-- Merge proposals for the decision queue: contact pairs in the review band, and auto-merge pairs the
-- clustering guard refused (they would join two records with conflicting LinkedIn profiles or employer
-- domains). Each carries the evidence per field: comparison level, weight and both values.
with pairs as (
    select * from {{ ref('int_entities__contact_pairs') }}
    where decision in ('review', 'auto_merge')
),

records as (
    select * from {{ ref('int_entities__contact_records') }}
),

clusters as (
    select record_id, golden_contact_id from {{ ref('int_entities__contact_clusters') }}
)

select
    md5(cast(p.left_id as varchar) || ':' || cast(p.right_id as varchar)) as proposal_id,
    'contact' as entity_type,
    p.left_id as left_record_id,
    p.right_id as right_record_id,
    lc.golden_contact_id as left_golden_contact_id,
    rc.golden_contact_id as right_golden_contact_id,
    case when p.decision = 'review' then 'review_band' else 'blocked_by_cluster_guard' end as reason,
    p.match_probability,
    p.match_weight,
    p.blocking_rules,
    json_object(
        'email', json_object('level', p.email_level, 'weight', p.email_weight, 'left', l.email, 'right', r.email),
        'linkedin', json_object('level', p.linkedin_level, 'weight', p.linkedin_weight,
                                'left', l.linkedin_url, 'right', r.linkedin_url),
        'first_name', json_object('level', p.first_name_level, 'weight', p.first_name_weight,
                                  'left', l.first_name, 'right', r.first_name),
        'last_name', json_object('level', p.last_name_level, 'weight', p.last_name_weight,
                                 'left', l.last_name, 'right', r.last_name),
        'phone', json_object('level', p.phone_level, 'weight', p.phone_weight, 'left', l.phone, 'right', r.phone),
        'workplace', json_object('level', p.workplace_level, 'weight', p.workplace_weight,
                                 'left', concat_ws(' | ', l.company_name, l.website_domain, l.street_address,
                                                   l.city, l.postal_code),
                                 'right', concat_ws(' | ', r.company_name, r.website_domain, r.street_address,
                                                    r.city, r.postal_code))
    ) as evidence,
    'pending' as status
from pairs as p
inner join records as l on l.record_id = p.left_id
inner join records as r on r.record_id = p.right_id
inner join clusters as lc on lc.record_id = p.left_id
inner join clusters as rc on rc.record_id = p.right_id
where lc.golden_contact_id <> rc.golden_contact_id
