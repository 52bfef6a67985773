-- Every HubSpot company record -> its golden account id and the rule that placed it there. Built from the
-- staging table so a lost record shows up with a NULL golden id (rejected by the golden gate).
-- Incremental: every row is computed each run, only the records whose row differs from the previous run's are
-- written (delete+insert on source_record_id; macros/rows_changed_since_last_run.sql); records that left the
-- export are deleted after.
{{ config(
    materialized='incremental',
    unique_key='source_record_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where source_record_id not in
               (select company_id from {{ ref('stg_hubspot__companies') }})"
) }}
with rows as (
    select
        'hubspot' as source_system,
        s.company_id as source_record_id,
        x.golden_account_id,
        x.registrable_domain,
        x.account_domain,
        x.match_rule,
        count(*) over (partition by x.golden_account_id) as cluster_size
    from {{ ref('stg_hubspot__companies') }} as s
    left join {{ ref('int_entities__company_records') }} as x on x.record_id = s.company_id
)

{{ rows_changed_since_last_run('rows', 'source_record_id') }}
