-- Product Segment events (track): one row per messageId; account_domain from properties.account_domain.
-- Incremental: events are append-only, so each run stages only rows loaded since the last (latest load wins).
{{ config(materialized='incremental', unique_key='message_id', incremental_strategy='delete+insert') }}
{{ staging_segment_events(source('segment', 'product_events')) }}
