-- Each classified email reply's class, one row per reply event_id: the newest classification in raw.reply_classes
-- (the `raw/reply_classes` asset appends ml.reply_classifications' new rows at the start of each refresh), so a
-- reply reclassified by a newer model version takes that version's class. A warehouse the copy has not reached
-- yet (a dbt build without the Dagster asset) gives no rows: no reply is classified then.
{%- set relation = adapter.get_relation(database=this.database, schema='raw', identifier='reply_classes') if execute else none %}
{%- if relation is none %}
-- depends on: {{ source('actionhouse', 'reply_classes') }}
select
    cast(null as varchar) as event_id, cast(null as varchar) as reply_class, cast(null as varchar) as decided_by,
    cast(null as varchar) as model_version, cast(null as timestamptz) as classified_at,
    cast(null as timestamptz) as copied_at
where false
{%- else %}
select
    event_id,
    predicted_class as reply_class,
    decided_by,
    model_version,
    cast(classified_at as timestamptz) as classified_at,
    cast(copied_at as timestamptz) as copied_at
from {{ source('actionhouse', 'reply_classes') }}
where event_id is not null
qualify row_number() over (partition by event_id order by classified_at desc, model_version desc) = 1
{%- endif %}
