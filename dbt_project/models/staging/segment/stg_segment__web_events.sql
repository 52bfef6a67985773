-- Website Segment events (page / track / identify): one row per messageId.
-- Incremental: events are append-only, so each run stages only rows loaded since the last (latest load wins).
{{ config(materialized='incremental', unique_key='message_id', incremental_strategy='delete+insert') }}
{{ staging_segment_events(source('segment', 'web_events')) }}
