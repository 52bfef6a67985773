-- HubSpot deals: latest version per Record ID, renamed and typed. Stage-entry dates become *_entered_at.
-- Incremental like stg_hubspot__contacts: each run stages again only the deals with a row loaded since the last run
-- (all their versions compete, see the macro); a deal absent from later exports keeps its latest version, as before.
{{ config(materialized='incremental', unique_key='deal_id', incremental_strategy='delete+insert') }}
{%- set stages = ['appointment_scheduled', 'qualified_to_buy', 'presentation_scheduled',
                  'decision_maker_bought_in', 'contract_sent', 'closed_won', 'closed_lost'] %}
with source as (
    {{ versions_of_records_loaded_since_last_run(source('hubspot', 'deals'), to_id('record_id')) }}
),

typed as (
    select
        {{ to_id('record_id') }} as deal_id,
        {{ to_utc_timestamp('last_modified_date') }} as last_modified_at,
        *
    from source
),

latest as (
    {{ dedupe_latest('typed', 'deal_id', 'last_modified_at desc nulls last, _loaded_at desc, _source_line desc') }}
)

select
    deal_id,
    {{ normalize_text('deal_name') }} as deal_name,
    {{ normalize_code('deal_stage') }} as deal_stage,
    {{ normalize_code('pipeline') }} as pipeline,
    {{ to_amount('amount') }} as amount,
    {{ to_utc_timestamp('close_date') }} as close_date,
    {{ to_utc_timestamp('create_date') }} as created_at,
    last_modified_at,
    {{ normalize_text('deal_owner') }} as deal_owner,
    {{ normalize_code('deal_type') }} as deal_type,
    {{ to_id_list('associated_company_ids') }} as associated_company_ids,
    {{ to_id_list('associated_contact_ids') }} as associated_contact_ids,
    {%- for s in stages %}
    {{ to_utc_timestamp('date_entered_' ~ s ~ '_sales_pipeline') }} as {{ s }}_entered_at,
    {%- endfor %}
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at
from latest
