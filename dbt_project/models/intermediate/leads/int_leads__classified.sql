-- Each lead classified for routing, always with a reason:
--   rejected    (junk): disposable domain, student, "stealth" company, gibberish (keyboard mash), a test entry
--               (test names or mailboxes, noreply@, placeholder domains or companies: the junk rules every contact
--               source shares, matching.junk via int_leads__junk), free/personal email without a company website
--   quarantined (cannot be routed): no company, no country, no role category
--   accepted    otherwise.
-- Free-mail / student / disposable lists and the exception list (addresses or domains that may pass
-- anyway) are seeds: er_free_mail_domains, er_disposable_domains, er_student_domain_patterns,
-- er_lead_exceptions.
-- The student domain patterns are read when the model runs and written into the query as constants: matched against
-- the seed's column, each (email domain, pattern) pair compiled its regex again (~1 s of CPU at 1M contacts, 45k leads).
-- A NULL domain matches none, as the `exists` over the seed's rows gave.
{%- set student_patterns_seed = ref('er_student_domain_patterns') %}
{%- set student_patterns = [] %}
{%- if execute %}
{%- set student_patterns = run_query(
        'select pattern from ' ~ student_patterns_seed ~ ' where pattern is not null order by pattern'
    ).columns[0].values() %}
{%- endif %}
with leads as (
    select * from {{ ref('int_leads__normalized') }}
),

exceptions as (select lower(trim(email_or_domain)) as email_or_domain from {{ ref('er_lead_exceptions') }}),

flagged as (
    select
        l.*,
        exists (select 1 from exceptions as e where e.email_or_domain in (l.email, l.email_domain)) as is_exception,
        coalesce(
            {%- for pattern in student_patterns %}
            regexp_matches(l.email_domain, '{{ pattern | replace("'", "''") }}'){{ ' or' if not loop.last }}
            {%- else %} false
            {%- endfor %}, false)
            or regexp_matches(coalesce(l.job_title, ''), '(?i)^\s*((phd|graduate|undergraduate|mba)\s+)?student\s*$')
            as is_student,
        regexp_matches(coalesce(l.company_name, ''), '(?i)^\s*stealth\b') as is_stealth,
        list_contains(j.junk_reasons, 'keyboard_mash') as is_gibberish,
        list_has_any(j.junk_reasons, ['test_name', 'test_email', 'no_reply_address', 'placeholder_email_domain',
                                      'test_company']) as is_test_entry
    from leads as l
    left join {{ ref('int_leads__junk') }} as j using (submission_id)
)

select
    *,
    case
        when reject_reason is not null then 'rejected'
        when quarantine_reason is not null then 'quarantined'
        else 'accepted'
    end as lead_status,
    coalesce(reject_reason, quarantine_reason, 'ok') as reason
from (
    select
        *,
        case
            when is_exception then null
            when email is null then 'invalid_email'
            when is_disposable then 'disposable_domain'
            when is_student then 'student'
            when is_stealth then 'stealth'
            when is_gibberish then 'gibberish'
            when is_test_entry then 'test_entry'
            -- A personal address is fine when the lead names a company website (routing uses that).
            when is_free_mail and website_domain is null then 'free_email'
        end as reject_reason,
        case
            when company_name is null and website_domain is null then 'missing_company'
            when company_domain is null then 'missing_company_domain'
            when country_code is null then 'missing_country'
            when role_category is null then 'missing_role_category'
        end as quarantine_reason
    from flagged
)
