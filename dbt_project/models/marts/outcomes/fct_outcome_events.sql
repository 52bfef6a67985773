-- The rows behind every outcome metric (docs/outcomes.md "Metrics"): one row per unit a metric counts — a lead,
-- a sequence enrollment, a positive reply, a no-show, an open deal, a flagged account, an unsubscribe, a
-- recipient-day of sends, a proposed action, a sent merge — with the moment that places it in a day and week
-- (cohort_at), whether it counts in the numerator, the id of the row that decided it and, for time metrics, the
-- hours. fct_workflow_outcomes aggregates these; every figure there is the count of rows here. Units, not raw
-- events: one row per lead or enrollment, never per email event. Every "first" row is chosen by time, then by the smallest id (ties in time
-- would otherwise be broken by the order rows arrive in, which differs between hourly and from-scratch builds).
-- Incremental, delete+insert on metric, workflow, unit_id: only the units whose row differs from the previous run's
-- are written (an hour changes ~1% of the rows). Units gone (a deal closed, a reply no longer positive) come back
-- keyed with no evidence_table: the post-hook deletes them.
-- Two kinds of units:
-- - the per-recipient units (email_units below: recipient-days of sends, sequence enrollments' reply, unsubscribe
--   and spam rates; two thirds of the rows at 1M) are a function of one recipient's email events and nothing else.
--   An hourly run computes and compares them only for the recipients with an email event staged since the previous
--   run (email_events_through: stg_email__events' newest _loaded_at that run saw) or whose event was staged again
--   under another address (its earlier versions in the raw table); every other recipient's events are those the
--   previous run saw, so its rows are as they were. On the first build, a full refresh and the first run after
--   upgrading (no email_events_through yet) every recipient.
-- - sequence_positive_reply_rate is per recipient too, but a reply's class comes from the labels and the
--   classifier's classes, which change without any email event: an hourly run computes it for the recipients above
--   and, for every other recipient, only its enrollments with a reply (the previous run's sequence_reply_rate rows
--   in the numerator: the enrollment, its first send and its reply are as that run saw them), whose class is looked
--   up again. An enrollment without a reply has no class to change: its row stays as it was, not compared.
-- - every other unit is computed and compared each run (they read contacts, crosswalk, meetings, decisions, reply
--   classes: no single upstream delta lists them): macros/rows_changed_since_last_run.sql's approach.
{%- set email_units = ['spam_complaint_rate', 'sequence_reply_rate', 'sequence_unsubscribe_rate',
                        'sequence_spam_complaint_rate'] %}
{%- set email_units_sql = "('" ~ email_units | join("', '") ~ "')" %}
{{ config(
    materialized='incremental',
    unique_key=['metric', 'workflow', 'unit_id'],
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where evidence_table is null"
) }}
{%- set follow_recipients = false %}
{%- if is_incremental() %}
    {%- set follow_recipients = 'email_events_through' in adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
{%- endif %}
{%- set events_staged_since_filter = "true" %}
{%- if follow_recipients and execute %}
    {#- The smallest id of the events staged since the previous run, written into the query as a constant so that DuckDB
        skips the raw row groups holding no version of them (see versions_of_events_staged_since). -#}
    {%- set smallest_id = run_query(
            'select min(event_id) from ' ~ ref('stg_email__events') ~ ' where _loaded_at > (select coalesce('
            ~ 'max(email_events_through), \'1900-01-01\'::timestamp) from ' ~ this ~ ')'
        ).columns[0].values()[0] %}
    {%- set events_staged_since_filter = trimmed_id_at_least('r.event_id', smallest_id) %}
{%- endif %}
with email_events_through as (
    select max(_loaded_at) as email_events_through from {{ ref('stg_email__events') }}
),

{% if follow_recipients -%}
-- Recipients whose email units may have changed since the previous run (see the header): an email event staged since,
-- and the earlier address of an event id staged again (raw keeps every version; trimmed as staging trims the id).
events_staged_since as materialized (
    select event_id, email from {{ ref('stg_email__events') }}
    where _loaded_at > (select coalesce(max(email_events_through), '1900-01-01'::timestamp) from {{ this }})
),

-- Only an id that may have a space at either end is trimmed: DuckDB's trim removes Unicode's space separators (' ',
-- U+00A0, U+2000-U+200A, U+3000, ...), all but ' ' outside ASCII, so an ASCII id (as many bytes as characters) without
-- ' ' at an end is its own trimmed form; an id trimming to '' is NULL in staging, matching nothing. Trimming all ~9M
-- raw ids cost ~2 s at 1M contacts; the test costs ~0.8 s.
-- The `where` (macros/trimmed_id_at_least.sql) keeps every raw id whose trimmed form sorts at or above the smallest id
-- staged since, so it changes no row; it is a constant range DuckDB checks against each row group's min and max. Where
-- ids grow with the load (the generated worlds' 'e-0008736306'), an hour reads the raw row groups of its own load, not
-- the other ~8.7M rows (~0.5 s of CPU at 1M contacts); an hour that stages an old id again reads from that id's row
-- group on.
versions_of_events_staged_since as materialized (
    select r.email
    from {{ source('email', 'email_events') }} as r
    semi join events_staged_since as s
        on s.event_id = case
            when r.event_id like ' %' or r.event_id like '% ' or strlen(r.event_id) <> length(r.event_id)
                then trim(r.event_id)
            else r.event_id
        end
    where {{ events_staged_since_filter }}
),

-- A NULL here (an address that does not normalize) matches no recipient. Not filtered out on purpose: DuckDB would
-- push that filter below the semi join and run the email regex over every raw event (~10 s at 1M contacts).
recipients as materialized (
    select email from events_staged_since
    union
    select {{ normalize_email('email') }} from versions_of_events_staged_since
),
{%- endif %}

contact_records as (
    select source_record_id as contact_id, golden_contact_id from {{ ref('contact_crosswalk') }}
),

-- Leads: contacts created since the CRM activity history starts (an older one's first touch cannot be known),
-- each with its golden contact's tier at its first scoring (raw.lead_tiers, copied from the previous refreshes'
-- published scores) as the segment; 'unscored' when it has none yet.
leads as (
    select c.contact_id, c.created_at, coalesce(t.tier_segment, 'unscored') as tier_segment
    from {{ ref('stg_hubspot__contacts') }} as c
    left join contact_records as x on x.contact_id = c.contact_id
    left join {{ ref('stg_actionhouse__lead_tiers') }} as t on t.golden_contact_id = x.golden_contact_id
    where c.created_at >= (select min(activity_at) from {{ ref('stg_hubspot__activities') }})
),

touches as (
    select unnest(associated_contact_ids) as contact_id, activity_id, activity_at
    from {{ ref('stg_hubspot__activities') }}
    where is_touch
),

first_touch as (
    select l.contact_id, arg_min(t.activity_id, (t.activity_at, t.activity_id)) as activity_id, min(t.activity_at) as touched_at
    from leads as l
    inner join touches as t on t.contact_id = l.contact_id and t.activity_at >= l.created_at
    group by l.contact_id
),

meetings as (
    select unnest(associated_contact_ids) as contact_id, meeting_id,
           coalesce(created_at, meeting_start_at) as booked_at
    from {{ ref('stg_hubspot__meetings') }}
),

lead_meeting as (
    select l.contact_id, arg_min(m.meeting_id, (m.booked_at, m.meeting_id)) as meeting_id
    from leads as l
    inner join meetings as m on m.contact_id = l.contact_id and m.booked_at >= l.created_at
        and m.booked_at <= l.created_at + to_days({{ var('outcome_window_days_meetings') }})
    group by l.contact_id
),

-- The email events other than sends that units count (replies, unsubscribes, spam reports: ~1% of the events), read
-- once for the sequences, the spam reports and the unsubscribes below.
response_events as materialized (
    select email, sequence_id, event_type, event_id, occurred_at
    from {{ ref('stg_email__events') }}
    where email is not null and event_type in ('reply', 'unsubscribe', 'spam_report')
),

-- The sends the per-recipient units count: an hourly run's recipients' only (see the header), found once for the
-- enrollments and the recipient-days below (each probe of the ~3.6M sends at 1M costs ~1-2 s). Every send on a first
-- build: read where used, as DuckDB would otherwise keep all ~3.6M in memory.
-- The recipients test is a mark join (`coalesce(... in ..., false)`, the same rows as the plain `in`: a NULL result
-- drops the row either way), which hashes the few thousand recipients and probes them with each send. As a plain
-- `in`, DuckDB's estimate of the recipients (~1.6M at 1M contacts, 2,667 in an hour) had it hash all ~3.6M sends
-- instead (~1 s of CPU more).
sent_events as {{ 'materialized' if follow_recipients else 'not materialized' }} (
    select email, sequence_id, occurred_at
    from {{ ref('stg_email__events') }}
    where event_type = 'sent' and email is not null
        {%- if follow_recipients %} and coalesce(email in (select email from recipients), false){% endif %}
),

-- Sequences (W5): one enrollment per recipient and sequence, from its first send; its replies, unsubscribes
-- and spam reports are events of the same recipient carrying the same sequence id, within the window.
enrollments as (
    select email, sequence_id, min(occurred_at) as enrolled_at
    from sent_events
    where sequence_id is not null
    group by email, sequence_id
),

enrollment_outcomes as (
    select
        e.email,
        e.sequence_id,
        e.enrolled_at,
        arg_min(s.event_id, (s.occurred_at, s.event_id)) filter (where s.event_type = 'reply') as reply_event_id,
        min(s.occurred_at) filter (where s.event_type = 'reply') as replied_at,
        arg_min(s.event_id, (s.occurred_at, s.event_id)) filter (where s.event_type = 'unsubscribe') as unsubscribe_event_id,
        arg_min(s.event_id, (s.occurred_at, s.event_id)) filter (where s.event_type = 'spam_report') as spam_event_id
    from enrollments as e
    left join response_events as s
        on s.email = e.email and s.sequence_id = e.sequence_id
        and s.occurred_at >= e.enrolled_at
        and s.occurred_at <= e.enrolled_at + to_days({{ var('outcome_window_days_meetings') }})
    group by e.email, e.sequence_id, e.enrolled_at
),

{% if follow_recipients -%}
-- The other recipients' enrollments with a reply, as the previous run's sequence_reply_rate rows hold them (segment:
-- the sequence, cohort_at: the first send, evidence_id: the first reply), the reply's time from its event. An anti
-- join, not `not in`: recipients may hold a NULL.
kept_replied_enrollments as (
    select substr(p.unit_id, 1, strpos(p.unit_id, '|') - 1) as email, p.segment as sequence_id, p.cohort_at as enrolled_at,
           p.evidence_id as reply_event_id, s.occurred_at as replied_at
    from {{ this }} as p
    inner join response_events as s on s.event_id = p.evidence_id and s.event_type = 'reply'
    anti join recipients as r on r.email = substr(p.unit_id, 1, strpos(p.unit_id, '|') - 1)
    where p.metric = 'sequence_reply_rate' and p.in_numerator
),
{%- endif %}

enrollment_replies_to_classify as (
    select email, sequence_id, enrolled_at, reply_event_id, replied_at from enrollment_outcomes
    {%- if follow_recipients %}

    union all

    select email, sequence_id, enrolled_at, reply_event_id, replied_at from kept_replied_enrollments
    {%- endif %}
),

-- Each enrollment's (first) reply with its class: an SDR's hand label (stg_email__reply_labels) wins over the
-- classifier's class (stg_actionhouse__reply_classes: copied from the previous refreshes' ml.reply_classifications,
-- so the newest replies have none yet). reply_class is null for no reply and for a reply not classified yet.
enrollment_replies as (
    select
        o.email, o.sequence_id, o.enrolled_at, o.reply_event_id, o.replied_at,
        coalesce(l.reply_label, c.reply_class) as reply_class,
        case
            when l.event_id is not null then 'stg_email__reply_labels'
            when c.event_id is not null then 'stg_actionhouse__reply_classes'
            else 'stg_email__events'
        end as class_table
    from enrollment_replies_to_classify as o
    left join {{ ref('stg_email__reply_labels') }} as l on l.event_id = o.reply_event_id
    left join {{ ref('stg_actionhouse__reply_classes') }} as c on c.event_id = o.reply_event_id
),

-- Positive replies and the next meeting booked with the person after it (any CRM record of the replier's golden
-- contact, found by the reply's email), within the meetings window.
-- The CRM records of the positive repliers' emails, found first: joined straight to all contacts, DuckDB may join
-- every contact with the crosswalk before matching the few hundred emails (~1.5 s at 1M contacts).
positive_reply_contacts as materialized (
    select email, contact_id from {{ ref('stg_hubspot__contacts') }}
    where email in (select email from enrollment_replies where reply_class = 'positive')
),

positive_reply_records as (
    select distinct r.email, r.sequence_id, coalesce(y.contact_id, c.contact_id) as contact_id
    from enrollment_replies as r
    inner join positive_reply_contacts as c on c.email = r.email
    left join contact_records as x on x.contact_id = c.contact_id
    left join contact_records as y on y.golden_contact_id = x.golden_contact_id
    where r.reply_class = 'positive'
),

positive_reply_meetings as (
    select r.email, r.sequence_id, arg_min(m.meeting_id, (m.booked_at, m.meeting_id)) as meeting_id,
           min(m.booked_at) as booked_at
    from enrollment_replies as r
    inner join positive_reply_records as p on p.email = r.email and p.sequence_id = r.sequence_id
    inner join meetings as m on m.contact_id = p.contact_id and m.booked_at >= r.replied_at
        and m.booked_at <= r.replied_at + to_days({{ var('outcome_window_days_meetings') }})
    group by r.email, r.sequence_id
),

-- Safety: every send and unsubscribe per recipient (all emails, sequence or not).
sends as (
    select email, cast(occurred_at as date) as sent_on, count(*) as sends, max(occurred_at) as last_sent_at
    from sent_events
    group by email, cast(occurred_at as date)
),

-- A spam report counts on the day of the recipient's latest send at or before it.
spam_reports as (
    select r.email, max(s.sent_on) as sent_on, r.event_id, r.occurred_at
    from response_events as r
    inner join sends as s on s.email = r.email and s.sent_on <= cast(r.occurred_at as date)
    where r.event_type = 'spam_report'
    group by r.email, r.event_id, r.occurred_at
),

spam_by_send_day as (
    select email, sent_on, arg_min(event_id, (occurred_at, event_id)) as event_id
    from spam_reports
    group by email, sent_on
),

unsubscribes as (
    select email, arg_min(event_id, (occurred_at, event_id)) as event_id, min(occurred_at) as unsubscribed_at
    from response_events
    where event_type = 'unsubscribe'
    group by email
),

sends_after_unsubscribe as (
    select u.email, min(s.occurred_at) as next_sent_at
    from unsubscribes as u
    inner join {{ ref('stg_email__events') }} as s
        on s.email = u.email and s.event_type = 'sent' and s.occurred_at > u.unsubscribed_at
    group by u.email
),

-- Customer-facing actions Actionhouse sent, per recipient email (the target contact's CRM records).
action_sends as (
    select c.email, d.action_id, d.sent_at
    from {{ ref('stg_actionhouse__decisions') }} as d
    inner join contact_records as x on x.golden_contact_id = d.target_id
    inner join {{ ref('stg_hubspot__contacts') }} as c on c.contact_id = x.contact_id
    where d.target_kind = 'contact' and d.sent_at is not null and c.email is not null
        and d.action_type in ({{ "'" ~ var('outcome_customer_facing_action_types') | join("', '") ~ "'" }})
),

actions_after_unsubscribe as (
    select u.email, arg_min(a.action_id, (a.sent_at, a.action_id)) as action_id
    from unsubscribes as u
    inner join action_sends as a on a.email = u.email and a.sent_at > u.unsubscribed_at
    group by u.email
),

flagged_accounts as (
    select golden_account_id, min(as_of) as flagged_at, arg_min(verdict_id, (as_of, verdict_id)) as verdict_id
    from {{ ref('fct_account_risk_history') }}
    group by golden_account_id
),

account_wins as (
    select f.golden_account_id, arg_min(d.deal_id, (d.closed_won_entered_at, d.deal_id)) as deal_id
    from flagged_accounts as f
    inner join {{ ref('fct_pipeline_deals') }} as d
        on d.golden_account_id = f.golden_account_id and d.closed_won_entered_at > f.flagged_at
        and d.closed_won_entered_at <= f.flagged_at + to_days({{ var('outcome_window_days_saves') }})
    group by f.golden_account_id
),

rows as materialized (
    select
        'first_touch_within_sla' as metric, 'sla' as workflow, l.tier_segment as segment, 'lead' as unit_kind,
        cast(l.contact_id as varchar) as unit_id, l.created_at as cohort_at,
        coalesce(epoch(t.touched_at) - epoch(l.created_at) <= {{ var('outcome_first_touch_sla_hours') }} * 3600, false)
            as in_numerator,
        'stg_hubspot__activities' as evidence_table, cast(t.activity_id as varchar) as evidence_id,
        (epoch(t.touched_at) - epoch(l.created_at)) / 3600.0 as hours
    from leads as l
    left join first_touch as t on t.contact_id = l.contact_id

    union all

    select
        'meetings_per_1000_leads', 'lead_routing', l.tier_segment, 'lead', cast(l.contact_id as varchar), l.created_at,
        m.meeting_id is not null, 'stg_hubspot__meetings', cast(m.meeting_id as varchar), null
    from leads as l
    left join lead_meeting as m on m.contact_id = l.contact_id

    union all
    {% for metric, column in [('sequence_reply_rate', 'reply_event_id'), ('sequence_unsubscribe_rate', 'unsubscribe_event_id'), ('sequence_spam_complaint_rate', 'spam_event_id')] %}
    select
        '{{ metric }}', 'sequences', sequence_id, 'enrollment', email || '|' || sequence_id, enrolled_at,
        {{ column }} is not null, 'stg_email__events', {{ column }}, null
    from enrollment_outcomes

    union all

    {% endfor -%}
    -- A reply not classified yet (and one the classifier sent to a human, needs_human) is no positive reply: it counts
    -- in the denominator like every enrollment, never in the numerator (docs/outcomes.md "Metrics").
    select
        'sequence_positive_reply_rate', 'sequences', sequence_id, 'enrollment', email || '|' || sequence_id, enrolled_at,
        coalesce(reply_class = 'positive', false), class_table, reply_event_id, null
    from enrollment_replies

    union all

    select
        'sequence_positive_reply_to_meeting', 'sequences', r.sequence_id, 'positive_reply', r.email || '|' || r.sequence_id,
        r.replied_at, m.meeting_id is not null, 'stg_hubspot__meetings', cast(m.meeting_id as varchar),
        (epoch(m.booked_at) - epoch(r.replied_at)) / 3600.0
    from enrollment_replies as r
    left join positive_reply_meetings as m on m.email = r.email and m.sequence_id = r.sequence_id
    where r.reply_class = 'positive'

    union all

    select
        'no_show_rescheduled', 'no_show', 'all', 'meeting', cast(meeting_id as varchar), meeting_start_at,
        coalesce(rebooked, false), 'fct_no_shows', cast(meeting_id as varchar), null
    from {{ ref('fct_no_shows') }}

    union all

    select
        'open_deals_with_next_step', 'hygiene', 'all', 'deal', cast(deal_id as varchar), as_of,
        has_next_step, 'fct_pipeline_deals', cast(deal_id as varchar), null
    from {{ ref('fct_pipeline_deals') }}
    where is_open

    union all

    select
        'flagged_accounts_renewed', 'at_risk', 'all', 'account', f.golden_account_id, f.flagged_at,
        w.deal_id is not null, 'fct_pipeline_deals', cast(w.deal_id as varchar), null
    from flagged_accounts as f
    left join account_wins as w on w.golden_account_id = f.golden_account_id

    union all

    select
        'unsubscribe_compliance', 'suppression', 'all', 'unsubscribe', u.event_id, u.unsubscribed_at,
        a.action_id is null, 'stg_actionhouse__decisions', coalesce(a.action_id, u.event_id), null
    from unsubscribes as u
    left join actions_after_unsubscribe as a on a.email = u.email

    union all

    select
        'unsubscribe_compliance_all_senders', 'suppression', 'all', 'unsubscribe', u.event_id, u.unsubscribed_at,
        a.next_sent_at is null, 'stg_email__events', u.event_id, null
    from unsubscribes as u
    left join sends_after_unsubscribe as a on a.email = u.email

    union all

    select
        'spam_complaint_rate', 'all', 'all', 'recipient_day', s.email || '|' || cast(s.sent_on as varchar),
        cast(s.sent_on as timestamptz), r.event_id is not null, 'stg_email__events', r.event_id, null
    from sends as s
    left join spam_by_send_day as r on r.email = s.email and r.sent_on = s.sent_on

    union all

    -- Safety: a merge Actionhouse sent that a person later recorded as wrong (split again: `actionhouse queue split`).
    select
        'incorrect_merge_rate', 'merges', 'all', 'action', action_id, sent_at,
        split_at is not null, 'stg_actionhouse__decisions', action_id, null
    from {{ ref('stg_actionhouse__decisions') }}
    where workflow = 'merges' and sent_at is not null

    union all

    select
        'escalation_rate', workflow, 'all', 'action', action_id, proposed_at,
        action_type in ('escalate_reply', 'sla_escalation', 'escalate_renewal'), 'stg_actionhouse__decisions', action_id,
        null
    from {{ ref('stg_actionhouse__decisions') }}
    where not is_held_out
)

{%- set columns = ['metric', 'workflow', 'segment', 'unit_kind', 'unit_id', 'cohort_at', 'in_numerator', 'evidence_table',
                   'evidence_id', 'hours'] %}
{%- if is_incremental() %},

-- The previous run's rows this run computed again: every unit but the per-recipient ones of recipients not in this
-- hour (and the positive-reply units without a reply). A per-recipient unit_id is the recipient's email, '|', then
-- the day or the sequence id: a normalized email has no '|' (macros/normalize_email.sql), so the email is what
-- precedes the first one (substr to strpos: split_part builds a list per row, ~0.5 s over the 6.9M rows at 1M).
-- Disjoint parts by metric (never NULL): the metric filter alone is pushed into the scan, so the ~6M rows of the
-- other recipients are not read whole (one filter with the subquery read every row's every column).
previous_rows as (
    select {{ columns | join(', ') }}
    from {{ this }}
    {%- if follow_recipients %}
    where metric not in {{ email_units_sql }} and metric <> 'sequence_positive_reply_rate'

    union all

    select {{ columns | join(', ') }}
    from {{ this }}
    where metric in {{ email_units_sql }}
        and substr(unit_id, 1, strpos(unit_id, '|') - 1) in (select email from recipients)

    union all

    -- The positive-reply units computed again: the recipients' and every enrollment with a reply (its evidence_id).
    select {{ columns | join(', ') }}
    from {{ this }}
    where metric = 'sequence_positive_reply_rate'
        and (evidence_id is not null or substr(unit_id, 1, strpos(unit_id, '|') - 1) in (select email from recipients))
    {%- endif %}
)
{%- endif %}

-- New rows and rows that differ from the previous run's (compared without the bookkeeping column), then the units
-- gone: keyed with no evidence_table, deleted by the post-hook.
{{ rows_changed_since_last_run(
    'rows', ['metric', 'workflow', 'unit_id'], gone='evidence_table', previous='previous_rows',
    stamp='(select email_events_through from email_events_through) as email_events_through'
) }}
