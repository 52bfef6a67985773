-- The decision queue's actions, 1:1 with raw.decision_log, with the two groups the outcome marts compare:
-- held out (state 'held_out': never approved, queued or sent) and treated (a CRM request of it was sent).
-- split_at: a sent merge a person recorded as wrong (the incorrect merge rate).
-- A warehouse the copy has not reached yet (a dbt build without the Dagster asset) gives no rows.
{%- set relation = adapter.get_relation(database=this.database, schema='raw', identifier='decision_log') if execute else none %}
{%- if relation is none %}
-- depends on: {{ source('actionhouse', 'decision_log') }}
select
    cast(null as varchar) as action_id, cast(null as varchar) as workflow, cast(null as varchar) as action_type,
    cast(null as varchar) as target_kind, cast(null as varchar) as target_id, cast(null as varchar) as account_id,
    cast(null as varchar) as owner, cast(null as varchar) as state, cast(null as varchar) as risk_class,
    cast(null as timestamptz) as proposed_at, cast(null as timestamptz) as decided_at,
    cast(null as timestamptz) as sent_at, cast(null as timestamptz) as split_at, cast(null as varchar) as policy_version,
    cast(null as timestamptz) as copied_at, cast(null as boolean) as is_held_out, cast(null as boolean) as is_treated
where false
{%- else %}
select
    action_id,
    workflow,
    action_type,
    target_kind,
    target_id,
    account_id,
    owner,
    state,
    risk_class,
    cast(proposed_at as timestamptz) as proposed_at,
    cast(decided_at as timestamptz) as decided_at,
    cast(sent_at as timestamptz) as sent_at,
    cast(split_at as timestamptz) as split_at,
    policy_version,
    cast(copied_at as timestamptz) as copied_at,
    state = 'held_out' as is_held_out,
    sent_at is not null as is_treated
from {{ source('actionhouse', 'decision_log') }}
{%- endif %}
