{#- Shared body of the Segment staging models (web and product events have the same spec). A messageId padded with
    spaces names the same event: deduplicated on the trimmed id, the key the models store. -#}
{% macro staging_segment_events(source_relation) -%}
with source as not materialized (
    select * from {{ source_relation }}
    {{ loaded_since_last_run() }}
),

latest as (
    {{ dedupe_latest_mostly_unique('source', 'trim(message_id)', '_loaded_at desc, _source_line desc') }}
),

typed as (
    select
        *,
        {{ normalize_code('type') }} as _event_type,
        coalesce({{ json_text('properties', 'path') }}, {{ json_text('context', 'page.path') }}) as _page_path,
        coalesce(
            {{ normalize_email('user_id') }},
            {{ normalize_email(json_text('traits', 'email')) }},
            {{ normalize_email(json_text('context', 'traits.email')) }}
        ) as _user_email
    from latest
)

select
    nullif(trim(message_id), '') as message_id,
    _event_type as event_type,
    case
        when _event_type = 'track' then {{ normalize_text('event') }}
        when _event_type = 'page' then coalesce({{ normalize_text('name') }}, {{ normalize_text(json_text('properties', 'name')) }})
    end as event_name,
    nullif(trim(anonymous_id), '') as anonymous_id,
    nullif(trim(user_id), '') as user_id,
    _user_email as user_email,
    {{ email_domain('_user_email') }} as user_email_domain,
    coalesce(
        {{ normalize_domain(json_text('properties', 'account_domain')) }},
        {{ normalize_domain(json_text('traits', 'account_domain')) }},
        {{ normalize_domain(json_text('traits', 'company_domain')) }},
        {{ normalize_domain(json_text('context', 'traits.account_domain')) }}
    ) as account_domain,
    _page_path as page_path,
    coalesce({{ json_text('properties', 'url') }}, {{ json_text('context', 'page.url') }}) as page_url,
    coalesce(_event_type = 'page' and starts_with(lower(_page_path), '/pricing'), false) as is_pricing_page,
    {{ to_utc_timestamp('timestamp') }} as occurred_at,
    properties,
    traits,
    context,
    _source_file,
    _source_line,
    _loaded_at
from typed
{%- endmacro %}
