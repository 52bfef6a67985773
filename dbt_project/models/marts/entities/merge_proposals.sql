-- Merge proposals for the decision queue: contact pairs in the review band, and auto-merge pairs the
-- clustering guard refused (they would join records with conflicting LinkedIn profiles or unbridged employer
-- domains). Each carries the evidence per field (comparison level, weight, both values) and is ranked by
-- expected value: approving it gains a merge with probability p and costs var('er_false_merge_cost') missed
-- merges with probability 1 - p, so the queue's daily cap takes the most valuable first.
-- The pairs across two golden contacts first, then the records of those pairs alone: joining every record (1M at
-- 1M contacts, all their columns, as a CTE read twice) to the ~98k auto-merge pairs before the cluster filter was
-- most of the model's time.
with clusters as (
    select record_id, golden_contact_id from {{ ref('int_entities__contact_clusters') }}
),

pairs as (
    select p.*, lc.golden_contact_id as left_golden_contact_id, rc.golden_contact_id as right_golden_contact_id
    from {{ ref('int_entities__contact_pairs') }} as p
    inner join clusters as lc on lc.record_id = p.left_id
    inner join clusters as rc on rc.record_id = p.right_id
    where p.decision in ('review', 'auto_merge') and lc.golden_contact_id <> rc.golden_contact_id
),

records as (
    select * from {{ ref('int_entities__contact_records') }}
    where record_id in (select left_id from pairs union all select right_id from pairs)
),

proposals as (
    select
        md5(cast(p.left_id as varchar) || ':' || cast(p.right_id as varchar)) as proposal_id,
        'contact' as entity_type,
        p.left_id as left_record_id,
        p.right_id as right_record_id,
        p.left_golden_contact_id,
        p.right_golden_contact_id,
        case
            when p.decision = 'auto_merge' then 'blocked_by_cluster_guard'
            when not coalesce(p.corroborated, true) then 'needs_corroboration'
            else 'review_band'
        end as reason,
        p.match_probability,
        p.match_weight,
        round(p.match_probability - {{ var('er_false_merge_cost') }} * (1 - p.match_probability), 6)
            as expected_value,
        p.blocking_rules,
        json_object(
            'email', json_object('level', p.email_level, 'weight', p.email_weight, 'left', l.email, 'right', r.email),
            'linkedin', json_object('level', p.linkedin_level, 'weight', p.linkedin_weight,
                                    'left', l.linkedin_url, 'right', r.linkedin_url),
            'first_name', json_object('level', p.first_name_level, 'weight', p.first_name_weight,
                                      'left', l.first_name, 'right', r.first_name),
            'last_name', json_object('level', p.last_name_level, 'weight', p.last_name_weight,
                                     'left', l.last_name, 'right', r.last_name),
            'phone', json_object('level', p.phone_level, 'weight', p.phone_weight,
                                 'left', concat_ws(' / ', l.phone, l.mobile_phone),
                                 'right', concat_ws(' / ', r.phone, r.mobile_phone)),
            'job_title', json_object('level', p.job_title_level, 'weight', p.job_title_weight,
                                     'left', l.job_title, 'right', r.job_title),
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
)

select
    *,
    row_number() over (order by expected_value desc, proposal_id) as proposal_rank
from proposals
