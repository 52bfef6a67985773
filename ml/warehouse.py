"""Read the scoring inputs from the warehouse's staging layer into the plain frames `ml.features` expects.

Leads are keyed by HubSpot `contact_id` (staging.stg_hubspot__contacts). Engagement is tied to a contact by
the contact id the sender knew, else by normalized email; account signals by the company's domain. When the
golden contacts mart exists, switching the key is a change of the `CONTACTS_SQL` source (see docs/scoring.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

CONTACTS_SQL = """
select c.contact_id, c.email, c.job_title, c.role_category, c.seniority,
       coalesce(c.country_code, co.country_code) as country_code,
       co.industry, co.number_of_employees as employees, co.technologies,
       coalesce(co.domain, co.website_domain, c.website_domain) as company_domain
from staging.stg_hubspot__contacts c
left join staging.stg_hubspot__companies co on co.company_id = c.primary_company_id
order by c.contact_id
"""

# Every engagement kind of ml.features.EVENT_KINDS, mapped from the staging models.
EVENTS_SQL = """
with contact_emails as (
    select email, contact_id from staging.stg_hubspot__contacts where email is not null
),
email_events as (
    select e.contact_id as known_contact_id, e.email,
           case e.event_type when 'click' then 'email_click' when 'reply' then 'email_reply'
                             when 'open' then 'email_open' end as kind,
           e.occurred_at
    from staging.stg_email__events e
    where e.event_type in ('click', 'reply', 'open')
),
web_events as (
    select null::bigint as known_contact_id, w.user_email as email,
           case when w.is_pricing_page or w.event_name = 'Pricing Calculator Used' then 'pricing_visit'
                when w.event_name = 'Demo Requested' then 'demo_request'
                else 'web_visit' end as kind,
           w.occurred_at
    from staging.stg_segment__web_events w
    where w.event_type in ('page', 'track') and w.user_email is not null
),
product_events as (
    select null::bigint, p.user_email, 'product_event', p.occurred_at
    from staging.stg_segment__product_events p
    where p.user_email is not null
),
all_events as (
    select * from email_events union all select * from web_events union all select * from product_events
)
select coalesce(a.known_contact_id, ce.contact_id) as contact_id, a.kind, a.occurred_at
from all_events a
left join contact_emails ce on a.known_contact_id is null and ce.email = a.email
where coalesce(a.known_contact_id, ce.contact_id) is not null
"""

SIGNALS_SQL = """
select domain, signal_type || '_signal' as kind, observed_at as occurred_at, magnitude
from staging.stg_signals__signals
where signal_type in ('hiring', 'funding', 'tool_install') and domain is not null and observed_at is not null
"""

# Outcomes for the intent label: a meeting booked or an opportunity (deal) created for the contact.
OUTCOMES_SQL = """
select unnest(associated_contact_ids) as contact_id, created_at as occurred_at, 'meeting' as outcome
from staging.stg_hubspot__meetings where created_at is not null
union all
select unnest(associated_contact_ids), created_at, 'opportunity'
from staging.stg_hubspot__deals where created_at is not null
"""


@dataclass
class ScoringInputs:
    """The plain frames features are built from, plus the data's clock (`now`: the latest event time)."""

    contacts: pl.DataFrame
    events: pl.DataFrame
    signals: pl.DataFrame
    outcomes: pl.DataFrame
    now: datetime


def load_scoring_inputs(con) -> ScoringInputs:
    """Query the staging layer through an open DuckDB connection (read-only is enough)."""
    contacts = pl.from_arrow(con.sql(CONTACTS_SQL).to_arrow_table())
    events = pl.from_arrow(con.sql(EVENTS_SQL).to_arrow_table())
    signals = pl.from_arrow(con.sql(SIGNALS_SQL).to_arrow_table())
    outcomes = pl.from_arrow(con.sql(OUTCOMES_SQL).to_arrow_table())
    latest = [
        events["occurred_at"].max() if events.height else None,
        outcomes["occurred_at"].max() if outcomes.height else None,
    ]
    latest = [t for t in latest if t is not None]
    now = max(latest) if latest else datetime.now(UTC)
    return ScoringInputs(contacts, events, signals, outcomes, now)
