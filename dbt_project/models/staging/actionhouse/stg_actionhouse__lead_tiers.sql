-- Each golden contact's tier at its first scoring, 1:1 with raw.lead_tiers (the `raw/lead_tiers` asset copies it
-- from the published scores at the start of each refresh), named as the outcome marts' tier segment.
-- A warehouse the copy has not reached yet (a dbt build without the Dagster asset) gives no rows: every lead is
-- then 'unscored'.
{%- set relation = adapter.get_relation(database=this.database, schema='raw', identifier='lead_tiers') if execute else none %}
{%- if relation is none %}
-- depends on: {{ source('actionhouse', 'lead_tiers') }}
select
    cast(null as varchar) as golden_contact_id, cast(null as integer) as tier, cast(null as varchar) as tier_segment,
    cast(null as timestamptz) as scored_at, cast(null as timestamptz) as copied_at
where false
{%- else %}
select
    golden_contact_id,
    cast(tier as integer) as tier,
    'tier_' || cast(tier as varchar) as tier_segment,
    cast(scored_at as timestamptz) as scored_at,
    cast(copied_at as timestamptz) as copied_at
from {{ source('actionhouse', 'lead_tiers') }}
{%- endif %}
