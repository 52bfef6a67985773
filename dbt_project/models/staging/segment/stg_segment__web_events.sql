-- Website Segment events (page / track / identify): one row per messageId.
{{ staging_segment_events(source('segment', 'web_events')) }}
