-- Product Segment events (track): one row per messageId; account_domain from properties.account_domain.
-- Incremental: events are append-only, so each run stages only rows loaded since the last (latest load wins).
-- `message_id` is stored with zstd (macros/column_compression.sql): all distinct, written in about half the CPU with
-- zstd and read as fast (the hour's delete key).
-- `_staged_at` stamps the rows each run writes: the tests of the message id and the email check the latest run's rows.
{{ config(
    materialized='incremental',
    unique_key='message_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    column_compression={'message_id': 'zstd'}
) }}
{{ staging_segment_events(source('segment', 'product_events')) }}
