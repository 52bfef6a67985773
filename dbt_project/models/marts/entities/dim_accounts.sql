-- Golden accounts: one row per account cluster. Firmographics from the anchor (oldest-id) record, gaps filled
-- from the other records of the cluster, then from confident enrichment; provenance says which. Parent and child
-- (subsidiary map, the CRM's Parent Company ID, a regional subsidiary or division on the parent's domain) are a
-- relationship: parent_golden_account_id.
-- Incremental: every row is computed each run (a few joins over the company records), but only the accounts whose
-- row differs from the previous run's are written (delete+insert on golden_account_id;
-- macros/rows_changed_since_last_run.sql): an hour that changed no company writes nothing. Accounts merged away
-- (their anchor record moved to another account) are deleted after.
{{ config(
    materialized='incremental',
    unique_key='golden_account_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where golden_account_id not in
               (select golden_account_id from {{ ref('int_entities__company_records') }})"
) }}
with crosswalk as (
    select * from {{ ref('int_entities__company_records') }}
),

companies as (
    select c.*, x.golden_account_id, x.account_domain
    from {{ ref('stg_hubspot__companies') }} as c
    inner join crosswalk as x on x.record_id = c.company_id
),

ranked as (
    select *, row_number() over (partition by golden_account_id order by company_id) as record_rank
    from companies
),

crm as (
    select
        golden_account_id,
        any_value(account_domain) as account_domain,
        arg_min(company_name, record_rank) filter (where company_name is not null) as company_name,
        arg_min(industry, record_rank) filter (where industry is not null) as industry,
        arg_min(number_of_employees, record_rank) filter (where number_of_employees is not null) as crm_employees,
        arg_min(company_id, record_rank) filter (where number_of_employees is not null) as employees_record_id,
        arg_min(annual_revenue, record_rank) filter (where annual_revenue is not null) as annual_revenue,
        arg_min(country_code, record_rank) filter (where country_code is not null) as country_code,
        arg_min(city, record_rank) filter (where city is not null) as city,
        arg_min(parent_company_id, record_rank) filter (where parent_company_id is not null) as parent_company_id,
        min(company_id) as anchor_record_id,
        -- Distinct account domains in the cluster (after subsidiary-map links): the golden gate wants <= 1.
        count(distinct account_domain) as account_domain_count,
        count(*) as source_record_count
    from ranked
    group by golden_account_id
),

enriched_employees as (
    select
        match_key as domain,
        arg_max(try_cast(value as bigint), (confidence, enrichment_field_id)) filter (where confidence is not null) as employees,
        arg_max(vendor, (confidence, enrichment_field_id)) filter (where confidence is not null) as vendor,
        max(confidence) as confidence,
        arg_max(coalesce(as_of, received_at), (confidence, enrichment_field_id)) filter (where confidence is not null) as observed_at
    from {{ ref('stg_vendors__enrichment') }}
    where object_type = 'company' and field_name = 'employee_count'
        and confidence >= {{ var('er_enrichment_min_confidence') }} and try_cast(value as bigint) is not null
    group by match_key
),

subsidiary_parent as (
    select x.golden_account_id, p.golden_account_id as parent_golden_account_id
    from {{ ref('er_subsidiary_map') }} as m
    inner join crosswalk as x on x.registrable_domain = lower(m.child_domain)
    inner join crosswalk as p on p.registrable_domain = lower(m.parent_domain)
    where m.relation = 'subsidiary'
),

rows as (
    select
        crm.golden_account_id,
        crm.account_domain,
        crm.company_name,
        crm.industry,
        coalesce(crm.crm_employees, e.employees) as number_of_employees,
        case when crm.crm_employees is not null then 'crm_user_entered'
             when e.employees is not null then 'enrichment' end as number_of_employees_source,
        case when crm.crm_employees is not null then cast(crm.employees_record_id as varchar)
             when e.employees is not null then e.vendor end as number_of_employees_source_record,
        case when crm.crm_employees is null then e.confidence end as number_of_employees_confidence,
        crm.annual_revenue,
        crm.country_code,
        crm.city,
        coalesce(sp.parent_golden_account_id, parent.golden_account_id, hierarchy.parent_golden_account_id)
            as parent_golden_account_id,
        crm.anchor_record_id,
        crm.source_record_count,
        crm.account_domain_count
    from crm
    left join enriched_employees as e on e.domain = crm.account_domain
    left join crosswalk as parent on parent.record_id = crm.parent_company_id
    left join subsidiary_parent as sp on sp.golden_account_id = crm.golden_account_id
    left join (
        select golden_account_id, min(parent_golden_account_id) as parent_golden_account_id
        from crosswalk group by golden_account_id
    ) as hierarchy on hierarchy.golden_account_id = crm.golden_account_id
)

{{ rows_changed_since_last_run('rows', 'golden_account_id') }}
