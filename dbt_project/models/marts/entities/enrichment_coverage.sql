-- Enrichment coverage (workflow 2 done metric): share of golden contacts with phone + role + company size,
-- before enrichment (CRM values only) and after (golden records with enrichment applied).
with crm_only as (
    select
        c.golden_contact_id,
        bool_or(s.phone is not null or s.mobile_phone is not null) as has_phone,
        bool_or(s.job_title is not null) as has_role
    from {{ ref('stg_hubspot__contacts') }} as s
    inner join {{ ref('int_entities__contact_clusters') }} as c on c.record_id = s.contact_id
    group by c.golden_contact_id
),

golden as (
    select
        d.golden_contact_id,
        d.phone is not null or d.mobile_phone is not null as has_phone,
        d.job_title is not null as has_role,
        a.number_of_employees is not null as has_size_after,
        a.number_of_employees_source = 'crm_user_entered' as has_size_before
    from {{ ref('dim_contacts') }} as d
    left join {{ ref('dim_accounts') }} as a using (golden_account_id)
)

select
    count(*) as golden_contacts,
    round(avg(case when b.has_phone and b.has_role and coalesce(g.has_size_before, false) then 1 else 0 end), 4)
        as coverage_before,
    round(avg(case when g.has_phone and g.has_role and coalesce(g.has_size_after, false) then 1 else 0 end), 4)
        as coverage_after,
    round(avg(case when b.has_phone then 1 else 0 end), 4) as phone_before,
    round(avg(case when g.has_phone then 1 else 0 end), 4) as phone_after,
    round(avg(case when b.has_role then 1 else 0 end), 4) as role_before,
    round(avg(case when g.has_role then 1 else 0 end), 4) as role_after,
    round(avg(case when g.has_size_before then 1 else 0 end), 4) as company_size_before,
    round(avg(case when g.has_size_after then 1 else 0 end), 4) as company_size_after
from golden as g
inner join crm_only as b using (golden_contact_id)
