-- Product Segment events (track): one row per messageId; account_domain from properties.account_domain.
{{ staging_segment_events(source('segment', 'product_events')) }}
