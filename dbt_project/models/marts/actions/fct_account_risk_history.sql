{{ config(materialized='incremental', unique_key='verdict_id', incremental_strategy='delete+insert') }}
-- Every at-risk verdict ever reached (W13), kept whether or not anybody acted on it: one row per account and
-- data day, the latest refresh of a day replacing that day's earlier one. Healthy accounts are not kept.
select
    golden_account_id || '|' || cast(cast(as_of as date) as varchar) as verdict_id,
    cast(as_of as date) as verdict_date,
    *
from {{ ref('fct_account_risk') }}
where risk_tier is not null
