-- Every lead intake source (forms, chat, webinars, demo requests, list uploads) in one normalized schema:
-- firmographics (industry, employee range, geo, tech stack of the mapped account), role category,
-- seniority and buying-committee tag. Classification happens in int_leads__classified.
with leads as (
    select * from {{ ref('stg_forms__leads') }}
),

free_mail as (select domain from {{ ref('er_free_mail_domains') }}),
disposable as (select domain from {{ ref('er_disposable_domains') }}),

accounts as (
    select account_domain, min(golden_account_id) as golden_account_id
    from {{ ref('int_entities__company_records') }}
    where account_domain is not null
    group by account_domain
),

shaped as (
    select
        l.submission_id,
        l.submitted_at,
        l.lead_source,
        l.campaign,
        l.first_name,
        l.last_name,
        l.email,
        l.email_domain,
        l.email_domain in (select domain from free_mail) as is_free_mail,
        l.email_domain in (select domain from disposable) as is_disposable,
        l.phone,
        l.job_title,
        l.role_category,
        l.seniority,
        l.company_name,
        -- The company's domain: the website given, else the email domain when it is a business address.
        coalesce(
            l.website_domain,
            case when l.email_domain not in (select domain from free_mail)
                  and l.email_domain not in (select domain from disposable) then l.email_domain end
        ) as company_domain,
        l.website_domain,
        lower(trim(l.industry)) as industry,
        l.number_of_employees,
        case
            when l.number_of_employees is null then null
            when l.number_of_employees <= 10 then '1-10'
            when l.number_of_employees <= 50 then '11-50'
            when l.number_of_employees <= 200 then '51-200'
            when l.number_of_employees <= 500 then '201-500'
            when l.number_of_employees <= 1000 then '501-1000'
            when l.number_of_employees <= 5000 then '1001-5000'
            else '5001+'
        end as employee_range,
        l.country_code,
        case
            when l.country_code in ('US', 'CA') then 'north_america'
            when l.country_code in ('BR', 'MX', 'AR', 'CL', 'CO') then 'latin_america'
            when l.country_code in ('IN', 'SG', 'AU', 'NZ', 'JP', 'CN', 'HK', 'KR') then 'apac'
            when l.country_code is not null then 'emea'
        end as geo_region,
        l.state_region,
        l.city,
        -- Buying committee, from seniority: who signs, who champions, who uses.
        case l.seniority
            when 'c_level' then 'decision_maker'
            when 'vp' then 'decision_maker'
            when 'director' then 'champion'
            when 'manager' then 'influencer'
            when 'individual_contributor' then 'end_user'
            when 'intern' then 'not_in_committee'
            else 'unknown'
        end as buying_committee_tag,
        l.message
    from leads as l
),

-- The tech stack of the accounts the leads map to: gathering every account's (100k at 1M contacts) was most of this
-- model's time, for the ~half of them some lead names.
account_tech as (
    select x.golden_account_id, list_sort(list_distinct(flatten(list(c.technologies)))) as tech_stack
    from {{ ref('stg_hubspot__companies') }} as c
    inner join {{ ref('int_entities__company_records') }} as x on x.record_id = c.company_id
    where x.golden_account_id in (
        select a.golden_account_id from accounts as a where a.account_domain in (select company_domain from shaped)
    )
    group by x.golden_account_id
)

select
    s.*,
    a.golden_account_id as mapped_account_id,
    t.tech_stack
from shaped as s
left join accounts as a on a.account_domain = s.company_domain
left join account_tech as t on t.golden_account_id = a.golden_account_id
