-- Daily product usage: one row per (account_domain, usage_date), latest load wins.
-- Incremental: usage rows are append-only and the latest load wins, so each run stages only the rows loaded since
-- the last (delete+insert replaces the days they restate).
-- Each row stamped with the start of the run that wrote it (`_staged_at`): the key test checks the latest run's ids
-- against the table on an hour (tests/generic/test_unique_not_null.sql). A table from before the stamp gains the
-- column (`append_new_columns`; its rows NULL) on the first run after.
{{ config(materialized='incremental', unique_key='usage_id', incremental_strategy='delete+insert',
          on_schema_change='append_new_columns') }}
with source as not materialized (
    select * from {{ source('product', 'usage') }}
    {{ loaded_since_last_run() }}
),

-- The domain normalized once a distinct domain (~180 rows a domain at 1M contacts; `typed` is read twice or three
-- times, and each read normalized every row's domain again) and joined back; a NULL domain finds none and stays
-- NULL, as normalize_domain(NULL) is.
domains as (
    select account_domain as _account_domain_key, {{ normalize_domain('account_domain') }} as _account_domain
    from (select distinct account_domain from source) as distinct_domains
),

typed as not materialized (
    select
        domains._account_domain,
        {{ to_date('usage_date') }} as _usage_date,
        source.*
    from source
    left join domains on source.account_domain = domains._account_domain_key
),

latest as (
    {{ dedupe_latest_mostly_unique('typed', '(_account_domain, _usage_date)', '_loaded_at desc, _source_line desc') }}
)

select
    _account_domain || '|' || cast(_usage_date as varchar) as usage_id,
    _account_domain as account_domain,
    {{ nullif_blank('account_domain') }} as account_domain_raw,
    _usage_date as usage_date,
    {{ to_integer('active_users') }} as active_users,
    {{ to_integer('sessions') }} as sessions,
    {{ to_integer('key_events') }} as key_events,
    {{ to_integer('seats_purchased') }} as seats_purchased,
    extra_columns,
    _source_file,
    _source_line,
    _loaded_at,
    {{ run_started_stamp() }} as _staged_at
from latest
where _account_domain is not null and _usage_date is not null
