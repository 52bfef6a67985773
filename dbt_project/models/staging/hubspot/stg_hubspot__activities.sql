-- HubSpot activities (calls, logged emails, tasks): latest version per Record ID (latest load wins).
-- A completed task, a call or an email logged by the owner is a touch; an open task is not.
-- Incremental: the latest load wins, so each run stages only the rows loaded since the last run (every stored
-- version is older) and they replace the stored rows of their activities; a record absent from later exports stays.
{{ config(materialized='incremental', unique_key='activity_id', incremental_strategy='delete+insert') }}
with source as (
    select * from {{ source('hubspot', 'activities') }}
    {{ loaded_since_last_run() }}
),

typed as (
    select {{ to_id('record_id') }} as activity_id, *
    from source
),

latest as (
    {{ dedupe_latest('typed', 'activity_id', '_loaded_at desc, _source_line desc') }}
)

select
    activity_id,
    nullif(upper(trim(activity_type)), '') as activity_type,
    {{ to_utc_timestamp('activity_date') }} as activity_at,
    {{ normalize_text('activity_assigned_to') }} as assigned_to,
    {{ normalize_text('subject') }} as subject,
    nullif(trim(call_outcome), '') as call_outcome,
    nullif(upper(trim(task_status)), '') as task_status,
    coalesce(upper(trim(activity_type)) in ('CALL', 'EMAIL', 'MEETING')
             or (upper(trim(activity_type)) = 'TASK' and upper(trim(task_status)) = 'COMPLETED'), false) as is_touch,
    {{ to_id_list('associated_contact_ids') }} as associated_contact_ids,
    {{ to_id_list('associated_company_ids') }} as associated_company_ids,
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at
from latest
