{#- Shared body of the Segment staging models (web and product events have the same spec). A messageId padded with
    spaces names the same event: deduplicated on the trimmed id, the key the models store. -#}
{% macro staging_segment_events(source_relation) -%}
with source as not materialized (
    select * from {{ source_relation }}
    {{ loaded_since_last_run() }}
),

latest as (
    {{ dedupe_latest_mostly_unique('source', trim_text('message_id'), '_loaded_at desc, _source_line desc') }}
),

documents as (
    {#- Each JSON document parsed once for all the keys read from it (one json_text per key parsed the context,
        the largest, up to four times a row). -#}
    select
        *,
        {{ json_texts('properties', ['path', 'url', 'name', 'account_domain']) }} as _properties,
        {{ json_texts('traits', ['email', 'account_domain', 'company_domain']) }} as _traits,
        {{ json_texts('context', ['page.path', 'page.url', 'traits.email', 'traits.account_domain']) }} as _context
    from latest
),

{#- The user id's address checked once a distinct user id (~12 events an id at 1M contacts, ~50 in the product
    events: the regex once per id rather than once per event) and joined back. The ids are those of `source`, a
    superset of `latest`'s: the lookup finds each row's own id; a NULL id finds none and stays NULL, as
    normalize_email(NULL) is. -#}
user_id_emails as (
    select user_id as _user_id_key, {{ normalize_email('user_id') }} as _user_id_email
    from (select distinct user_id from source) as distinct_user_ids
),

typed as (
    select
        documents.*,
        {{ normalize_code('type') }} as _event_type,
        coalesce(_properties[1], _context[1]) as _page_path,
        coalesce(
            user_id_emails._user_id_email,
            {{ normalize_email('_traits[1]') }},
            {{ normalize_email('_context[3]') }}
        ) as _user_email
    from documents
    left join user_id_emails on documents.user_id = user_id_emails._user_id_key
)

select
    nullif({{ trim_text('message_id') }}, '') as message_id,
    _event_type as event_type,
    case
        when _event_type = 'track' then {{ normalize_text('event') }}
        when _event_type = 'page' then coalesce({{ normalize_text('name') }}, {{ normalize_text('_properties[3]') }})
    end as event_name,
    nullif({{ trim_text('anonymous_id') }}, '') as anonymous_id,
    nullif({{ trim_text('user_id') }}, '') as user_id,
    _user_email as user_email,
    {{ email_domain('_user_email') }} as user_email_domain,
    coalesce(
        {{ normalize_domain('_properties[4]') }},
        {{ normalize_domain('_traits[2]') }},
        {{ normalize_domain('_traits[3]') }},
        {{ normalize_domain('_context[4]') }}
    ) as account_domain,
    _page_path as page_path,
    coalesce(_properties[2], _context[2]) as page_url,
    coalesce(_event_type = 'page' and starts_with(lower(_page_path), '/pricing'), false) as is_pricing_page,
    {{ to_utc_timestamp('timestamp') }} as occurred_at,
    properties,
    traits,
    context,
    _source_file,
    _source_line,
    _loaded_at,
    {{ run_started_stamp() }} as _staged_at
from typed
{%- endmacro %}
